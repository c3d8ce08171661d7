// Interop client: drives our Go server (Accept + echo) with the Node `ws`
// package and prints one line per check. Usage: node ws_client.js URL [big]
// (big: send one 2 MiB message and report the close code).
'use strict';
const WebSocket = require('ws');

const url = process.argv[2];
const ws = new WebSocket(url); // offers permessage-deflate, which we must decline
const fail = (msg) => { console.log('FAIL ' + msg); process.exit(1); };
const queue = [];
ws.on('message', (data, isBinary) => {
  const w = queue.shift();
  if (!w) fail('unexpected message');
  w(data, isBinary);
});
const expectEcho = () => new Promise((resolve) => queue.push((d, b) => resolve({ d, b })));

ws.on('open', async () => {
  if (ws.extensions !== '') fail('extensions negotiated: ' + ws.extensions);
  console.log('OPEN');
  if (process.argv[3] === 'big') {
    ws.send(Buffer.alloc(2 * 1024 * 1024)); // over the server's 1 MiB default
    return;
  }

  ws.send('hello ☃');
  let r = await expectEcho();
  if (r.b || r.d.toString() !== 'hello ☃') fail('text echo');
  console.log('OK text');

  const big = Buffer.alloc(70000);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  ws.send(big);
  r = await expectEcho();
  if (!r.b || !Buffer.from(r.d).equals(big)) fail('binary echo');
  console.log('OK binary');

  ws.send('frag', { fin: false });
  ws.ping('mid');
  ws.send('ment', { fin: true });
  r = await expectEcho();
  if (r.b || r.d.toString() !== 'fragment') fail('fragment echo: ' + r.d.toString());
  console.log('OK fragment');

  ws.once('pong', (p) => {
    console.log('OK pong ' + p.toString());
    ws.close(4001, 'done');
  });
  ws.ping('pp');
});
ws.on('close', (code, reason) => {
  console.log('CLOSED ' + code + ' ' + reason.toString());
  process.exit(0);
});
ws.on('error', (e) => fail('error ' + e.message));
