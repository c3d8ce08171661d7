'use strict'
// One of the tracker example's small backends (run three: PORT=4001/4002/4003; see run.sh).
//
// Users connect to it with Socket.IO (default path /socket.io/) and send
//   chat ({channel, text, from}, ack)     -> ack {ok:true, id} | {ok:false, code, message}
// The backend emits every message on a channel it carries to its own users as
//   message {id, channel, from, text, origin, server}   (origin: backend that got it from a user;
//                                                      server: this backend)
// and relays its own users' messages to the other backends through Switchboard's /list channel
// (`broadcast {channel, data}`), which hands them back to the others as `message` events: the
// original's tracker.js. It also serves the tracker page itself (serve.js), so the page can come
// from any backend behind a load balancer.
//
// Environment:
//   PORT          port (default 4001)          HOST  interface (default 127.0.0.1)
//   NAME          name shown to browsers (default node-PORT)
//   SB_URL        Switchboard (default http://127.0.0.1:8080)   SB_TOKEN  control-channel token
//   PUBLIC_URL    the URL browsers use to reach THIS backend (default http://127.0.0.1:PORT);
//                 may carry a path prefix, e.g. http://127.0.0.1:8000/b/4001 behind nginx
//   CHANNELS      channels this backend carries, comma-separated (default lobby)
//   PAGE_ORIGINS  origins allowed to connect from a browser, comma-separated
//                 (default: the page on 127.0.0.1/localhost ports 8080, 8000 and 4000)

const http = require('node:http')
const crypto = require('node:crypto')
const { Server } = require('socket.io')
const { io } = require('socket.io-client')
const { handler } = require('./serve')

const PORT = Number(process.env.PORT || 4001)
const HOST = process.env.HOST || '127.0.0.1'
const NAME = process.env.NAME || `node-${PORT}`
const SB_URL = process.env.SB_URL || 'http://127.0.0.1:8080'
const SB_TOKEN = process.env.SB_TOKEN || ''
const ADDRESS = `http://${HOST.includes(':') ? `[${HOST}]` : HOST}:${PORT}`
const PUBLIC_URL = process.env.PUBLIC_URL || `http://127.0.0.1:${PORT}`
const CHANNELS = new Set((process.env.CHANNELS || 'lobby').split(',').map((s) => s.trim()).filter(Boolean))
const PAGE_ORIGINS = (process.env.PAGE_ORIGINS ||
  ['8080', '8000', '4000'].flatMap((p) => [`http://127.0.0.1:${p}`, `http://localhost:${p}`]).join(','))
  .split(',').map((s) => s.trim()).filter(Boolean)
const MAX_NAME = 64
const MAX_TEXT = 2000

if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535) {
  console.error(`PORT must be an integer in [1, 65535], got ${JSON.stringify(process.env.PORT)}`)
  process.exit(2)
}

function log (...args) {
  console.log(new Date().toISOString(), `[${NAME}]`, ...args)
}

// validName: a non-empty string of at most 64 characters without control characters, or null.
function validName (v) {
  if (typeof v !== 'string') return null
  const s = v.trim()
  // eslint-disable-next-line no-control-regex
  return s.length > 0 && s.length <= MAX_NAME && !/[\u0000-\u001f\u007f]/.test(s) ? s : null
}

const fail = (code, message) => ({ ok: false, code, message })

// --- users -------------------------------------------------------------------------------

const server = http.createServer(handler(NAME))
const users = new Server(server, {
  cors: { origin: PAGE_ORIGINS }, // the page is served from another origin than this port
  maxHttpBufferSize: 16 * 1024
})

users.on('connection', (socket) => {
  socket.on('chat', (arg, ack) => {
    const reply = typeof ack === 'function' ? ack : () => {}
    try {
      const channel = validName(arg && arg.channel)
      const text = arg && typeof arg.text === 'string' && arg.text.length > 0 && arg.text.length <= MAX_TEXT ? arg.text : null
      const from = arg && arg.from !== undefined ? validName(arg.from) : 'anonymous'
      if (!channel || !CHANNELS.has(channel)) return reply(fail('UNKNOWN_CHANNEL', `channels here: ${[...CHANNELS].join(', ')}`))
      if (!text) return reply(fail('BAD_REQUEST', `text must be a string of 1..${MAX_TEXT} characters`))
      if (!from) return reply(fail('INVALID_NAME', `names are 1..${MAX_NAME} characters, no control characters`))

      const data = { id: crypto.randomUUID(), text, from, origin: NAME }
      // 1. to our own users, at once;
      users.emit('message', { ...data, channel, server: NAME })
      // 2. to the other backends, through Switchboard (never echoed back to us).
      if (!registered) {
        log('not registered with Switchboard: message stays local')
        return reply({ ok: true, id: data.id, relayed: false })
      }
      hub.timeout(5000).emit('broadcast', { channel, data }, (err, res) => {
        if (err || !res || !res.ok) log('broadcast failed:', err ? err.message : JSON.stringify(res))
        reply({ ok: true, id: data.id, relayed: !err && !!res && res.ok === true })
      })
    } catch (err) {
      log('chat handler failed:', err)
      reply(fail('INTERNAL', 'internal error'))
    }
  })
})

// --- Switchboard -------------------------------------------------------------------------

let registered = false
const hub = io(`${SB_URL}/list`, {
  path: '/list',
  auth: SB_TOKEN ? { token: SB_TOKEN } : undefined,
  autoConnect: false // connected once we listen
})

// On every (re)connect: announce (internal address, public URL and a name for the page), then
// join our channels. A restarted Switchboard knows nothing of us until we do.
hub.on('connect', () => {
  registered = false
  hub.timeout(5000).emit('address', ADDRESS, { url: PUBLIC_URL, meta: { name: NAME } }, (err, res) => {
    if (err) return log('address: no ack from Switchboard')
    if (!res || !res.ok) return log('address refused:', JSON.stringify(res))
    registered = true
    log(`registered as ${res.address} (id ${res.id}), browsers use ${PUBLIC_URL}`)
    for (const channel of CHANNELS) {
      hub.timeout(5000).emit('join_room', channel, (err, res) => {
        if (err || !res || !res.ok) log(`join_room ${channel} failed:`, err ? err.message : JSON.stringify(res))
      })
    }
  })
})
hub.on('connect_error', (err) => {
  // Network errors are retried by the client; a refusal (e.g. a wrong token) stops it: retry slowly.
  if (hub.active) return log(`Switchboard unreachable (${err.message}); retrying`)
  log(`Switchboard refused the connection: ${err.message}; retrying in 30s`)
  setTimeout(() => hub.connect(), 30000).unref()
})
hub.on('disconnect', (reason) => { registered = false; log(`disconnected from Switchboard: ${reason}`) })
hub.on('error', (e) => log('error from Switchboard:', JSON.stringify(e)))

// A message from another backend: {id, from, backend, to, room, data}; data is what that
// backend broadcast. Anything malformed is dropped, never trusted.
hub.on('message', (m) => {
  if (!m || typeof m !== 'object' || !m.data || typeof m.data !== 'object') return
  const channel = typeof m.room === 'string' ? m.room : null
  if (!channel || !CHANNELS.has(channel)) return
  const d = m.data
  if (typeof d.text !== 'string' || typeof d.id !== 'string') return
  users.emit('message', {
    id: d.id.slice(0, 64),
    channel,
    from: validName(d.from) || 'anonymous',
    text: d.text.slice(0, MAX_TEXT),
    origin: validName(d.origin) || m.backend,
    server: NAME
  })
})

// tracker.js: Switchboard tells every backend when another one joins or leaves.
hub.on('server_joined', (s) => log('server joined:', s && s.meta && s.meta.name, s && s.address))
hub.on('server_left', (s) => log('server left:', s && s.meta && s.meta.name, s && s.address))

server.listen(PORT, HOST, () => {
  log(`listening on ${ADDRESS}; joining Switchboard at ${SB_URL}`)
  hub.connect()
})
server.on('error', (err) => {
  console.error(`listen on ${HOST}:${PORT}: ${err.message}`)
  process.exit(1)
})

// Started by a test script with an IPC channel (spawn stdio 'ipc'): leave with it, even when it
// is killed with SIGKILL, so no orphan keeps the port.
if (process.send) process.on('disconnect', () => process.exit(0))

function stop () {
  hub.close()
  users.close()
  setTimeout(() => process.exit(0), 500).unref()
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
