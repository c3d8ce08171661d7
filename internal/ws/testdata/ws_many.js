// Opens N idle WebSocket connections to URL (no compression, no pings) and
// prints "OPEN N" once all are open; stays until killed.
// Usage: node ws_many.js URL N
'use strict';
const WebSocket = require('ws');

const url = process.argv[2];
const n = parseInt(process.argv[3], 10);
let open = 0;
const conns = [];
function next() {
  if (conns.length === n) return;
  const ws = new WebSocket(url, { perMessageDeflate: false });
  conns.push(ws);
  ws.on('open', () => {
    open++;
    if (open === n) console.log('OPEN ' + n);
    next();
  });
  ws.on('error', (e) => { console.log('FAIL ' + e.message); process.exit(1); });
}
// A few handshakes in flight at a time keeps the listen backlog small.
for (let i = 0; i < 16; i++) next();
