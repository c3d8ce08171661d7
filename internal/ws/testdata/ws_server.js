// Interop server: the Node `ws` package serves our Go Dial client. It echoes
// data messages and reacts to a few commands. Prints "LISTEN <port>".
'use strict';
const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
wss.on('listening', () => console.log('LISTEN ' + wss.address().port));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    const s = isBinary ? '' : data.toString();
    if (s === 'frag-me') {
      ws.send('ab', { fin: false });
      ws.send('cd', { fin: false });
      ws.send('ef', { fin: true });
    } else if (s === 'ping-me') {
      ws.once('pong', (p) => ws.send('ponged ' + p.toString()));
      ws.ping('srv');
    } else if (s === 'close-me') {
      ws.close(4002, 'bye');
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
  ws.on('close', (code, reason) => console.log('SERVERCLOSE ' + code + ' ' + reason.toString()));
  ws.on('error', (e) => console.log('SERVERERROR ' + e.message));
});
