// User client of the `messaging` benchmark (issues 4 and 6): holds a slice
// of the users (stock socket.io-client@4.8.4, WebSocket), each logged in on
// one of the backends (user i on backend i mod B), and sends paced messages
// from them: direct messages to random other users (--kind dm) or public
// messages (--kind pub). Every message carries its send time (CLOCK_MONOTONIC
// via process.hrtime, comparable across processes of one machine); every
// receiver records the latency in a histogram.
//   node bench/node/msg-users.js --ports 8301,8302,8303 --users 300 --from 0 --count 100
//        --kind dm --rate 1000 --duration 10 --start-at <unix ms> --settle 2
//        (or --start-on-stdin 1: start when a line arrives on stdin)
// After the last send it waits until nothing arrived for --settle seconds
// (at most --settle-max), so late messages count as late, not lost.
// Prints "ready N" after every login, then one JSON line at the end:
//   {sent, received, errors, send_errors, late_ticks, secs, hist: {bucketUs: count}, busy}
// Histogram buckets: 10 µs wide below 10 ms, 100 µs up to 100 ms, 1 ms above
// (bucket key = lower bound in µs).
'use strict';
const { io } = require('socket.io-client');
const { parseArgs, sleep } = require('./common');

const a = parseArgs(process.argv.slice(2), {
  ports: '8301,8302,8303', host: '127.0.0.1', users: 300, from: 0, count: 100, kind: 'dm',
  rate: 1000, duration: 10, 'start-at': 0, settle: 1, 'settle-max': 30, size: 0, max: 900, prefix: 'u',
});
const ports = String(a.ports).split(',').map(Number);
const hist = new Map();
let sent = 0;
let received = 0;
let errors = 0;
let sendErrors = 0;
const pad = a.size > 0 ? 'x'.repeat(a.size) : '';

setTimeout(() => { console.error('msg-users: max time reached'); process.exit(3); }, a.max * 1000).unref();

function record(us) {
  let b;
  if (us < 10000) b = Math.floor(us / 10) * 10;
  else if (us < 100000) b = Math.floor(us / 100) * 100;
  else b = Math.floor(us / 1000) * 1000;
  hist.set(b, (hist.get(b) || 0) + 1);
}

function nowNs() { return process.hrtime.bigint(); }

async function main() {
  const users = [];
  const logins = [];
  for (let k = 0; k < a.count; k++) {
    const i = a.from + k;
    const name = a.prefix + i;
    const port = ports[i % ports.length];
    logins.push(new Promise((resolve) => {
      const s = io(`http://${a.host}:${port}`, { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 20000 });
      s.on('msg', (m) => {
        const t = m && typeof m.text === 'string' ? m.text.split('|')[2] : undefined;
        if (t === undefined) return;
        received++;
        record(Number(nowNs() - BigInt(t)) / 1000);
      });
      s.on('connect_error', (e) => { errors++; if (errors === 1) console.error('connect_error', e.message); resolve(null); });
      s.on('disconnect', (r) => { if (r !== 'io client disconnect') { errors++; console.error(`${name} disconnected: ${r}`); } });
      s.once('connect', () => {
        s.timeout(20000).emit('login', name, (err, res) => {
          if (err || !res || !res.ok) { errors++; console.error(`login ${name}:`, err ? err.message : JSON.stringify(res)); resolve(null); return; }
          resolve({ name, i, s });
        });
      });
    }));
  }
  for (const u of await Promise.all(logins)) if (u) users.push(u);
  console.log(`ready ${users.length}`);
  if (users.length === 0) process.exit(1);

  if (a['start-on-stdin']) {
    // The harness writes a line once every process has printed "ready".
    await new Promise((resolve) => process.stdin.once('data', () => { process.stdin.pause(); resolve(); }));
  } else {
    const startAt = a['start-at'] || Date.now();
    await sleep(Math.max(0, startAt - Date.now()));
  }
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  const total = Math.round(a.rate * a.duration);
  let seq = 0;
  let lateTicks = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const elapsed = (Date.now() - t0) / 1000;
      const due = Math.min(total, Math.floor(elapsed * a.rate));
      // Message k (0-based) is due at t0 + (k+1)/rate; the oldest unsent one
      // due more than 50 ms ago means the sender is behind the pace.
      if (sent < due && elapsed - (sent + 1) / a.rate > 0.05) lateTicks++;
      while (sent < due) {
        const u = users[seq % users.length];
        seq++;
        const text = `${u.name}|${seq}|${nowNs()}${pad ? '|' + pad : ''}`;
        const cb = (err, res) => { if (err || !res || !res.ok) sendErrors++; };
        if (a.kind === 'pub') {
          u.s.timeout(10000).emit('pub', { text }, cb);
        } else {
          let j = Math.floor(Math.random() * (a.users - 1));
          if (j >= u.i) j++; // anyone but the sender
          u.s.timeout(10000).emit('dm', { to: a.prefix + j, text }, cb);
        }
        sent++;
      }
      if (sent >= total) { clearInterval(timer); resolve(); }
    };
    const timer = setInterval(tick, 1);
  });
  // Settle: wait until nothing has arrived for --settle seconds (at most
  // --settle-max), so a late message counts as late, not as lost.
  const settleEnd = Date.now() + a['settle-max'] * 1000;
  let last = -1;
  while (Date.now() < settleEnd) {
    await sleep(a.settle * 1000);
    if (received === last) break;
    last = received;
  }
  const secs = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const h = {};
  for (const [k, v] of hist) h[k] = v;
  console.log(JSON.stringify({ sent, received, errors, send_errors: sendErrors, late_ticks: lateTicks, secs,
    busy: (cpu.user + cpu.system) / 1e6 / secs, hist: h }));
  users.forEach((u) => u.s.close());
  setTimeout(() => process.exit(0), 100);
}

main().catch((e) => { console.error(e); process.exit(1); });
