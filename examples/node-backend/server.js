'use strict'
// A minimal backend for Switchboard: the original README's snippet (steps 2 and 3), fixed.
//
//   PORT=3001 node examples/node-backend/server.js
//
// Environment:
//   SB_URL    Switchboard's main listener (default http://127.0.0.1:8080)
//   SB_TOKEN  control-channel token, if Switchboard runs with --token (default none)
//   PORT      port to listen on (default 3001)
//   HOST      interface to listen on (default 127.0.0.1; 0.0.0.0 or :: also work, see announceURL)
//   WEIGHT    weight in the pool, an integer >= 1 (default 1)
//
// What it serves: "backend :PORT" on every HTTP path, and a Socket.IO server of its own on the
// default path /socket.io/ with a `whoami` event whose ack returns the port (used by tests that
// go through Switchboard's proxy).

const http = require('node:http')
const { Server } = require('socket.io')
// Fix 1: the npm package is `socket.io-client` (the original wrote `socket-io-client`).
const { io } = require('socket.io-client')

const SB_URL = process.env.SB_URL || 'http://127.0.0.1:8080'
const SB_TOKEN = process.env.SB_TOKEN || ''
const PORT = parseIntEnv('PORT', 3001, 0, 65535)
const WEIGHT = parseIntEnv('WEIGHT', 1, 1, 1000000)
const HOST = process.env.HOST || '127.0.0.1'

function parseIntEnv (name, def, min, max) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return def
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`)
    process.exit(2)
  }
  return n
}

function log (...args) {
  console.log(new Date().toISOString(), `[backend :${server.address()?.port ?? PORT}]`, ...args)
}

// The user-facing side: plain HTTP on every path...
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' })
  res.end(`backend :${server.address().port}\n`)
})

// ...and a Socket.IO server of our own (default path /socket.io/). Requests under /socket.io/
// are taken by it; every other path reaches the handler above.
const userIO = new Server(server)
userIO.on('connection', (socket) => {
  socket.on('whoami', (ack) => {
    if (typeof ack === 'function') ack(server.address().port)
  })
})

// announceURL builds the address we register under. Fix 2: a real template string
// (the original's `http://{ip}:{port}` lacks the `$` and sent the braces verbatim).
// server.address() reports the unspecified address when listening on every interface:
// "0.0.0.0" can be sent as it is, and "::" needs brackets in a URL; Switchboard replaces an
// unspecified host with the IP this process's channel connection comes from.
function announceURL () {
  const { address, family, port } = server.address()
  const ip = family === 'IPv6' || family === 6 ? `[${address}]` : address
  return `http://${ip}:${port}`
}

let hub = null // the /list channel; created once we listen, so we always have a port to announce

server.listen(PORT, HOST, () => {
  log(`listening on ${announceURL()}; joining Switchboard at ${SB_URL}`)

  // Step 2: connect to the channel: engine path /list, namespace /list.
  hub = io(`${SB_URL}/list`, {
    path: '/list',
    auth: SB_TOKEN ? { token: SB_TOKEN } : undefined
  })

  // Step 3, changed: announce on EVERY connect, not once on 'listening'. The client reconnects
  // by itself when Switchboard restarts (or the link drops), but the new session starts empty:
  // a backend that announced only once would be gone from the pool for good.
  hub.on('connect', () => {
    const url = announceURL()
    hub.timeout(5000).emit('address', url, { weight: WEIGHT }, (err, res) => {
      if (err) return log('address: no ack from Switchboard within 5s')
      if (res && res.ok) log(`registered as ${res.address} (id ${res.id}, weight ${WEIGHT})`)
      else log('address refused:', JSON.stringify(res))
    })
  })

  hub.on('connect_error', (err) => {
    // Network errors (Switchboard not up yet, restarting) are retried by the client with backoff.
    // A refusal by Switchboard itself (e.g. a wrong token) stops the client: try again slowly,
    // in case Switchboard is restarted with a fixed configuration.
    if (hub.active) return log(`Switchboard unreachable (${err.message}); retrying`)
    log(`Switchboard refused the connection: ${err.message}; retrying in 30s`)
    setTimeout(() => hub.connect(), 30000).unref()
  })

  hub.on('disconnect', (reason) => {
    log(`left the pool: ${reason}${hub.active ? '; reconnecting' : ''}`)
  })

  // Failures of events sent without an ack, and REPLACED (another process announced our address).
  hub.on('error', (e) => log('error from Switchboard:', JSON.stringify(e)))
})

server.on('error', (err) => {
  console.error(`listen on ${HOST}:${PORT}: ${err.message}`)
  process.exit(1)
})

// Graceful stop: tell Switchboard to send nothing new (drain), wait (at most 5 s) until the
// requests and WebSocket tunnels it has open to us are done (`drain` is idempotent and answers
// the counts), then leave the pool and close.
let stopping = false
function stop () {
  if (stopping) return process.exit(1) // second signal: quit now
  stopping = true
  const done = () => {
    if (hub) hub.close()
    userIO.close()
    server.close(() => process.exit(0))
    setTimeout(() => process.exit(0), 2000).unref()
  }
  const deadline = Date.now() + 5000
  let lastState = ''
  const drain = () => {
    if (!hub || !hub.connected) return done()
    hub.timeout(1000).emit('drain', (err, res) => {
      const busy = !err && res && res.ok && (res.in_flight > 0 || res.tunnels > 0)
      if (busy && Date.now() < deadline) {
        const state = `draining: ${res.in_flight} request(s), ${res.tunnels} tunnel(s) open`
        if (state !== lastState) log((lastState = state))
        return setTimeout(drain, 200)
      }
      done()
    })
  }
  drain()
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
