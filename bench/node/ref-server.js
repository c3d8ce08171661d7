// Reference Socket.IO server for the `sio` benchmark: socket.io@4.8.4 with
// default options, namespace "/", event "echo" acked with its arguments and
// event "ev" counted. GET /_stats answers the counters as JSON.
//   node bench/node/ref-server.js --port 8202
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const args = parseArgs(process.argv.slice(2), { port: 8202, host: '127.0.0.1' });
let ev = 0;
let echo = 0;
let conns = 0;

const httpServer = http.createServer((req, res) => {
  if (req.url === '/_stats') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ ev, echo, conns, impl: 'node socket.io ' + require('socket.io/package.json').version }));
    return;
  }
  res.statusCode = 404;
  res.end();
});
const io = new Server(httpServer, { serveClient: false });
io.on('connection', (socket) => {
  conns++;
  socket.on('disconnect', () => { conns--; });
  socket.on('ev', () => { ev++; });
  socket.on('echo', (...a) => {
    echo++;
    const ack = a.pop();
    if (typeof ack === 'function') ack(...a);
  });
});
httpServer.listen(args.port, args.host, () => {
  console.log(`listening ${args.host}:${args.port}`);
});
const stop = () => { io.close(); httpServer.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Safety bound: never outlive the harness by more than this.
setTimeout(stop, (args.max || 7200) * 1000).unref();

function parseArgs(argv, def) {
  const out = Object.assign({}, def);
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) continue;
    let v = m[2] !== undefined ? m[2] : argv[++i];
    out[m[1]] = /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  }
  return out;
}
