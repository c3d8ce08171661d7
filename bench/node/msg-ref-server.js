// Reference side of the `messaging` benchmark (issue 4): one of three
// socket.io@4.8.4 servers sharing users through @socket.io/redis-adapter and
// a local redis-server. It speaks the same user protocol as
// examples/chat/backend.js (the Switchboard side), so one user client drives
// both:
//   login (name, ack)        -> ack {ok:true, name}; the socket joins room "u:<name>"
//   dm    ({to, text}, ack)  -> "msg" {kind:'dm', from, text} to the user's sockets on any server
//   pub   ({text}, ack)      -> "msg" {kind:'pub', from, text} to every user but the sender
//   node bench/node/msg-ref-server.js --port 8301 --redis redis://127.0.0.1:6390
// With --redis none it runs on socket.io's in-memory adapter and reaches only its own users:
// the messaging benchmark's "floor" side, whose users send dms only within their server. There it
// emits straight to the recipient's socket (a name -> socket map), skipping the room lookup.
'use strict';
const http = require('http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');
const { parseArgs } = require('./common');

const a = parseArgs(process.argv.slice(2), { port: 8301, host: '127.0.0.1', redis: 'redis://127.0.0.1:6390', max: 7200 });
let dms = 0;
let pubs = 0;

async function main() {
  const local = a.redis === 'none';
  const byName = new Map();
  const pub = local ? null : createClient({ url: a.redis });
  const sub = local ? null : pub.duplicate();
  if (!local) {
    for (const c of [pub, sub]) c.on('error', (e) => console.error('redis:', e.message));
    await Promise.all([pub.connect(), sub.connect()]);
  }
  const httpServer = http.createServer((req, res) => {
    if (req.url === '/_stats') {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ dms, pubs }));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  const io = new Server(httpServer, local ? { serveClient: false } : { serveClient: false, adapter: createAdapter(pub, sub) });
  const ok = (ack, v) => { if (typeof ack === 'function') ack(v); };
  io.on('connection', (socket) => {
    socket.on('login', (name, ack) => {
      if (typeof name !== 'string' || name.length === 0 || name.length > 64) return ok(ack, { ok: false, code: 'INVALID_NAME' });
      socket.data.name = name;
      socket.join('u:' + name);
      if (local) { byName.set(name, socket); socket.on('disconnect', () => { if (byName.get(name) === socket) byName.delete(name); }); }
      ok(ack, { ok: true, name });
    });
    socket.on('dm', (m, ack) => {
      const from = socket.data.name;
      if (!from || !m || typeof m.to !== 'string' || typeof m.text !== 'string') return ok(ack, { ok: false, code: 'BAD_REQUEST' });
      dms++;
      if (local) {
        const to = byName.get(m.to);
        if (to) to.emit('msg', { kind: 'dm', from, text: m.text });
      } else {
        io.to('u:' + m.to).emit('msg', { kind: 'dm', from, text: m.text });
      }
      ok(ack, { ok: true });
    });
    socket.on('pub', (m, ack) => {
      const from = socket.data.name;
      if (!from || !m || typeof m.text !== 'string') return ok(ack, { ok: false, code: 'BAD_REQUEST' });
      pubs++;
      socket.broadcast.emit('msg', { kind: 'pub', from, text: m.text });
      ok(ack, { ok: true });
    });
  });
  httpServer.listen(a.port, a.host, () => console.log(`listening ${a.host}:${a.port}`));
  const stop = () => {
    io.close();
    if (!local) { pub.quit().catch(() => {}); sub.quit().catch(() => {}); }
    setTimeout(() => process.exit(0), 200);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  setTimeout(stop, a.max * 1000).unref();
}

main().catch((e) => { console.error(e); process.exit(1); });
