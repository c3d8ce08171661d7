// Tracker interop driver: the stock npm socket.io-client@4.8.4 against the Go tracker.
// Usage: node client.js <baseURL> <enginePath>
// Env: TRANSPORTS (comma-separated; default polling then upgrade), ORIGIN (Origin header),
//      CONNECTIONS (open that many clients one after the other, no reconnection; default 1),
//      EMIT (JSON array of [event, ...args]: emitted with an ack once connected),
//      FLOOD (emit that many "noise" events at once once connected).
// Prints one line per event for the Go test: "connect N", "servers JSON", "server_joined JSON",
// "server_left JSON", "ack EVENT JSON", "connect_error N MESSAGE", "disconnect N REASON", "emitted".
'use strict'
const { io } = require('socket.io-client')

const [url, path] = process.argv.slice(2)
const transports = process.env.TRANSPORTS ? process.env.TRANSPORTS.split(',') : undefined
const connections = Number(process.env.CONNECTIONS || 1)
const emits = process.env.EMIT ? JSON.parse(process.env.EMIT) : []
const flood = Number(process.env.FLOOD || 0)
const out = (...a) => console.log(a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' '))
process.on('uncaughtException', (e) => { out('error', String((e && e.stack) || e)); process.exit(1) })

function open (n) {
  return new Promise((resolve) => {
    const opts = { path, transports, forceNew: true, reconnection: connections === 1 && !process.env.NO_RECONNECT, timeout: 5000 }
    if (process.env.ORIGIN) opts.extraHeaders = { Origin: process.env.ORIGIN }
    const s = io(url, opts)
    s.on('connect', async () => {
      out('connect', String(n))
      for (const [event, ...args] of emits) {
        const res = await new Promise((res) => s.timeout(3000).emit(event, ...args, (err, r) => res(err ? 'timeout' : r)))
        out('ack', event, res)
      }
      if (emits.length) out('emitted')
      for (let i = 0; i < flood; i++) s.emit('noise', i)
      if (flood) out('flooded')
      resolve(s)
    })
    s.on('connect_error', (err) => {
      out('connect_error', String(n), err.message, err.description && (err.description.message || err.description.status || String(err.description)))
      if (!s.active) resolve(null)
      else if (connections > 1) { s.close(); resolve(null) }
    })
    s.on('disconnect', (reason) => out('disconnect', String(n), reason))
    for (const ev of ['servers', 'server_joined', 'server_left']) s.on(ev, (x) => out(ev, x))
  })
}

(async () => {
  for (let i = 1; i <= connections; i++) {
    const s = await open(i)
    if (connections > 1 && s) { s.close() }
  }
  if (connections > 1) out('done')
})()
