// Socket.IO load client for the `sio` benchmark, on the stock npm
// socket.io-client@4.8.4 (websocket transport).
//   node bench/node/load.js --url http://127.0.0.1:8202 --mode ack|ev|hold
//        --conns 4 --inflight 16 --duration 10 --start-at <unix ms> [--size 32]
// ack:  keeps --inflight acked "echo" events in flight in total (spread over
//       the connections), for --duration seconds from --start-at.
// ev:   emits "ev" as fast as the engine drains (never more than --batch
//       queued per connection), for --duration seconds.
// hold: opens --conns idle connections, prints "ready N failed M", holds
//       them until SIGTERM or --max seconds.
// Prints one JSON line: {sent, acked, errors, secs, rate, busy}.
'use strict';
const { io } = require('socket.io-client');
const { parseArgs, sleep } = require('./common');

const a = parseArgs(process.argv.slice(2), {
  url: 'http://127.0.0.1:8202', mode: 'ack', conns: 4, inflight: 16, duration: 10,
  'start-at': 0, size: 32, batch: 64, max: 900,
});
const payload = 'x'.repeat(a.size);
let sent = 0;
let acked = 0;
let errors = 0;

setTimeout(() => { console.error('load.js: max time reached'); process.exit(3); }, a.max * 1000).unref();

async function main() {
  const sockets = await connectAll(a.conns);
  if (a.mode === 'hold') {
    console.log(`ready ${sockets.length} failed ${a.conns - sockets.length}`);
    const stop = () => { sockets.forEach((s) => s.close()); process.exit(0); };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    return;
  }
  const startAt = a['start-at'] || Date.now();
  await sleep(Math.max(0, startAt - Date.now()));
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const end = t0 + a.duration * 1000;
  if (a.mode === 'ack') {
    const per = Math.max(1, Math.round(a.inflight / sockets.length));
    await Promise.all(sockets.map((s) => ackLoop(s, per, end)));
  } else {
    await Promise.all(sockets.map((s) => evLoop(s, end)));
  }
  const secs = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const busy = (cpu.user + cpu.system) / 1e6 / secs;
  console.log(JSON.stringify({ impl: 'npm', mode: a.mode, sent, acked, errors, secs, rate: (a.mode === 'ack' ? acked : sent) / secs, busy }));
  sockets.forEach((s) => s.close());
  // Give the close frames a moment to leave, then exit.
  setTimeout(() => process.exit(0), 100);
}

function connectAll(n) {
  const list = [];
  for (let i = 0; i < n; i++) {
    list.push(new Promise((resolve) => {
      const s = io(a.url, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 20000 });
      s.once('connect', () => resolve(s));
      s.once('connect_error', (e) => { errors++; if (errors === 1) console.error('connect_error', e.message); s.close(); resolve(null); });
    }));
  }
  return Promise.all(list).then((l) => l.filter(Boolean));
}

function ackLoop(s, inflight, end) {
  return new Promise((resolve) => {
    let pending = 0;
    const fire = () => {
      while (pending < inflight && Date.now() < end && s.connected) {
        pending++;
        sent++;
        s.emit('echo', payload, () => {
          pending--;
          acked++;
          if (Date.now() < end && s.connected) fire();
          else if (pending === 0) resolve();
        });
      }
      if (pending === 0) resolve();
    };
    s.on('disconnect', () => { errors++; resolve(); });
    fire();
    setTimeout(resolve, end - Date.now() + 5000).unref();
  });
}

function evLoop(s, end) {
  return new Promise((resolve) => {
    const engine = s.io.engine;
    const finish = () => {
      // Barrier: one acked echo after the flood; events on a socket are
      // handled in order, so its ack means every "ev" before it was handled.
      if (!s.connected) { resolve(); return; }
      s.timeout(30000).emit('echo', 'barrier', () => resolve());
    };
    const pump = () => {
      if (Date.now() >= end || !s.connected) { finish(); return; }
      for (let i = 0; i < a.batch; i++) { s.emit('ev', payload); sent++; }
      // Wait for the engine to flush what is queued (backpressure) before the next batch.
      if (engine.writeBuffer.length > 0) engine.once('drain', pump);
      else setImmediate(pump);
    };
    s.on('disconnect', () => { errors++; resolve(); });
    pump();
  });
}

main().catch((e) => { console.error(e); process.exit(1); });
