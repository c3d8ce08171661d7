'use strict'
// A stateful chat backend: its users are connected to THIS process, yet they can talk to users
// on every other backend, because Switchboard knows which backend holds which name.
//
//   PORT=3001 node examples/chat/backend.js     (run three: 3001, 3002, 3003; see run.sh)
//
// Environment: SB_URL (default http://127.0.0.1:8080), SB_TOKEN, PORT (default 3001),
// HOST (default 127.0.0.1).
//
// Users speak to this backend over Socket.IO (default path /socket.io/):
//   login (name, ack)            -> ack {ok, name, backend} | {ok:false, code, message}
//   dm    ({to, text}, ack)      -> ack {ok, delivered, held, unknown} (Switchboard's answer)
//   pub   ({text}, ack)          -> public message to everyone on every backend
//   join  (room, ack) / leave (room, ack)
//   say   ({room, text}, ack)    -> message to the room's members on every backend
// and receive:
//   msg    {kind: 'dm'|'pub'|'room', from, room, text, via, id}   (via: the sending backend; id: Switchboard's message id, absent for local messages)
//   notice {text}
//
// The backend speaks to Switchboard over the /list channel (docs/PROTOCOL.md):
// address, join_subs, leave_subs, message, join_room, leave_room; it receives `message`.
// Users' messages travel in batches both ways (see send() and the `message` handler).

const fs = require('node:fs')
const path = require('node:path')
const http = require('node:http')
const { Server } = require('socket.io')
const { io } = require('socket.io-client')

const SB_URL = process.env.SB_URL || 'http://127.0.0.1:8080'
const SB_TOKEN = process.env.SB_TOKEN || ''
const PORT = Number(process.env.PORT || 3001)
const HOST = process.env.HOST || '127.0.0.1'
const MAX_NAME = 64 // names and rooms: 1..64 characters
const MAX_TEXT = 2000 // message text: 1..2000 characters
const HUB_TIMEOUT = 5000 // ms to wait for Switchboard's acks
const MAX_BATCH = 1000 // messages in one `message` array (Switchboard's bound)
const MAX_UNANSWERED = 2 // `message` emits awaiting Switchboard's ack; later messages queue up

if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) {
  console.error(`PORT must be an integer in [0, 65535], got ${JSON.stringify(process.env.PORT)}`)
  process.exit(2)
}

function log (...args) {
  console.log(new Date().toISOString(), `[chat :${PORT}]`, ...args)
}

// --- validation: everything a user sends is untrusted ------------------------------------

// validName returns the name if it is a usable user or room name, else null.
function validName (v) {
  if (typeof v !== 'string') return null
  const s = v.trim()
  // eslint-disable-next-line no-control-regex
  if (s.length === 0 || s.length > MAX_NAME || /[\u0000-\u001f\u007f]/.test(s)) return null
  return s
}

function validText (v) {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_TEXT ? v : null
}

const fail = (code, message) => ({ ok: false, code, message })
const BAD_NAME = fail('INVALID_NAME', `names are 1..${MAX_NAME} characters, no control characters`)
const BAD_TEXT = fail('BAD_REQUEST', `text must be a string of 1..${MAX_TEXT} characters`)
const NOT_LOGGED_IN = fail('NOT_LOGGED_IN', 'log in first')
const HUB_DOWN = fail('HUB_UNAVAILABLE', 'not connected to Switchboard right now; try again')

// --- local state: who is connected to THIS backend ---------------------------------------

const users = new Map() // name -> socket (a name is reserved here while its join_subs is pending)
const rooms = new Map() // room -> Set of sockets on this backend

// --- the user-facing HTTP + Socket.IO server ---------------------------------------------

const page = fs.readFileSync(path.join(__dirname, 'index.html'))
const server = http.createServer((req, res) => {
  const url = req.url.split('?')[0]
  if (req.method === 'GET' && (url === '/' || url === '/index.html')) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'X-Backend': String(PORT) })
    return res.end(page)
  }
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' })
  res.end(`chat backend :${PORT}: not found\n`)
})
// serveClient (default true) serves /socket.io/socket.io.js for the page.
const userIO = new Server(server, { maxHttpBufferSize: 16 * 1024 })

userIO.on('connection', (socket) => {
  socket.data.name = null // set once login succeeds
  socket.data.pending = false // a login is waiting for Switchboard's answer
  socket.data.rooms = new Set()

  // on registers a handler that never throws and always answers the ack (if any) once.
  const on = (event, fn) => socket.on(event, (arg, ack) => {
    if (typeof arg === 'function') { ack = arg; arg = undefined }
    const reply = typeof ack === 'function' ? ack : () => {}
    try {
      fn(arg, reply)
    } catch (err) {
      log(`handler ${event} failed:`, err)
      reply(fail('INTERNAL', 'internal error'))
    }
  })

  on('login', (arg, reply) => {
    const name = validName(arg)
    if (!name) return reply(BAD_NAME)
    if (socket.data.name) return reply(fail('ALREADY_LOGGED_IN', `you are ${socket.data.name}`))
    if (socket.data.pending) return reply(fail('LOGIN_PENDING', 'a login is already under way'))
    if (users.has(name)) return reply(fail('NAME_TAKEN', `${name} is taken (on this backend)`))
    if (!hubReady()) return reply(HUB_DOWN)
    users.set(name, socket) // reserve locally so a second local login cannot race us
    socket.data.pending = true
    hubCall('join_subs', name, (res) => {
      socket.data.pending = false
      const ok = claimed(res, name)
      if (!ok || !socket.connected) {
        if (users.get(name) === socket) users.delete(name)
        if (ok) hubEmit('leave_subs', name) // the user left while we were asking
        if (!ok) log(`login ${name} refused:`, JSON.stringify(res))
        return reply(ok ? fail('GONE', 'disconnected') : failureFor(res, name))
      }
      socket.data.name = name
      log(`${name} logged in`)
      reply({ ok: true, name, backend: PORT })
    })
  })

  on('dm', (arg, reply) => {
    const from = socket.data.name
    if (!from) return reply(NOT_LOGGED_IN)
    const to = validName(arg && arg.to)
    const text = validText(arg && arg.text)
    if (!to) return reply(BAD_NAME)
    if (!text) return reply(BAD_TEXT)
    if (!hubReady()) return reply(HUB_DOWN)
    // Always through Switchboard, even for a user on this backend: one path, and the ack
    // says whether the name was delivered, held (its backend is down) or unknown.
    send({ to, data: { text }, from }, reply)
  })

  on('pub', (arg, reply) => {
    const from = socket.data.name
    if (!from) return reply(NOT_LOGGED_IN)
    const text = validText(arg && arg.text)
    if (!text) return reply(BAD_TEXT)
    // Switchboard never echoes a public message to the backend that sent it, so the local
    // users get it from us directly.
    deliverLocal(null, { kind: 'pub', from, room: null, text, via: 'local' }, socket)
    if (!hubReady()) return reply(HUB_DOWN)
    send({ data: { text }, from }, reply)
  })

  on('join', (arg, reply) => {
    if (!socket.data.name) return reply(NOT_LOGGED_IN)
    const room = validName(arg)
    if (!room) return reply(BAD_NAME)
    if (!socket.data.rooms.has(room) && socket.data.rooms.size >= 32) return reply(fail('TOO_MANY_ROOMS', 'at most 32 rooms'))
    socket.data.rooms.add(room)
    if (!rooms.has(room)) {
      rooms.set(room, new Set())
      hubEmit('join_room', room) // the first local member makes this backend a room member
    }
    rooms.get(room).add(socket)
    reply({ ok: true, room })
  })

  on('leave', (arg, reply) => {
    const room = validName(arg)
    if (!room || !socket.data.rooms.has(room)) return reply(fail('NOT_MEMBER', 'not in that room'))
    leaveRoom(socket, room)
    reply({ ok: true, room })
  })

  on('say', (arg, reply) => {
    const from = socket.data.name
    if (!from) return reply(NOT_LOGGED_IN)
    const room = validName(arg && arg.room)
    const text = validText(arg && arg.text)
    if (!room || !socket.data.rooms.has(room)) return reply(fail('NOT_MEMBER', 'join the room first'))
    if (!text) return reply(BAD_TEXT)
    deliverLocal(room, { kind: 'room', from, room, text, via: 'local' }, socket)
    if (!hubReady()) return reply(HUB_DOWN)
    send({ room, data: { text }, from }, reply)
  })

  socket.on('disconnect', () => {
    for (const room of [...socket.data.rooms]) leaveRoom(socket, room)
    const name = socket.data.name
    if (name && users.get(name) === socket) {
      users.delete(name)
      hubEmit('leave_subs', name)
      log(`${name} left`)
    }
  })
})

function leaveRoom (socket, room) {
  socket.data.rooms.delete(room)
  const members = rooms.get(room)
  if (!members) return
  members.delete(socket)
  if (members.size === 0) {
    rooms.delete(room)
    hubEmit('leave_room', room)
  }
}

// deliverLocal sends msg to this backend's users: a room's members, or everyone (room null),
// except `skip` (the sender, whose page shows its own message already).
function deliverLocal (room, msg, skip) {
  const targets = room === null ? [...users.values()] : [...(rooms.get(room) || [])]
  for (const s of targets) {
    if (s !== skip && s.data.name) s.emit('msg', msg)
  }
}

// --- the Switchboard side ------------------------------------------------------------------

let registered = false // true between a successful `address` ack and the next disconnect
// autoConnect off: we connect once we listen, so there is always a port to announce.
const hub = io(`${SB_URL}/list`, {
  path: '/list',
  auth: SB_TOKEN ? { token: SB_TOKEN } : undefined,
  autoConnect: false
})

function hubReady () { return hub.connected && registered }

// hubCall emits with an ack and always calls cb once with an object ({ok:false,...} on timeout).
function hubCall (event, arg, cb) {
  hub.timeout(HUB_TIMEOUT).emit(event, arg, (err, res) => {
    if (err) return cb(fail('HUB_TIMEOUT', `no answer from Switchboard to ${event}`))
    cb(res && typeof res === 'object' ? res : fail('BAD_REPLY', 'unexpected answer'))
  })
}

// hubEmit is for events whose outcome only matters if it fails: log it.
function hubEmit (event, arg) {
  if (!hub.connected) return // re-synced on the next connect anyway
  hubCall(event, arg, (res) => { if (!res.ok) log(`${event} ${JSON.stringify(arg)}:`, JSON.stringify(res)) })
}

// --- users' messages to Switchboard: batched ----------------------------------------------
//
// Each `message` emit costs a packet both ways (and its encoding, decoding and a write), so
// users' messages share them: while MAX_UNANSWERED emits await Switchboard's ack, new messages
// queue up, and each ack sends everything queued as ONE `message` array (up to MAX_BATCH).
// No timer delays anything: a lone message goes at once, as a plain object. The ack of an
// array carries one result per item, `{ok:true, results:[...]}`, and each user gets exactly
// their item's, the same answer a single `message` gets. Switchboard routes one connection's
// emits in order, so messages keep the order users sent them in.
//
// A Switchboard that predates batches answers an array with BAD_REQUEST: from then on this
// connection sends every message on its own, as before. Until the first array has been
// answered, nothing is sent behind it, so that falling back keeps the order too.

const queue = [] // messages not sent yet: {msg, reply, deadline, done}, oldest first
let unanswered = new Set() // emits awaiting their ack: {items, array}
let batching // this connection: undefined (not known yet), true, or false (old Switchboard)
const HUB_MESSAGE_TIMEOUT = fail('HUB_TIMEOUT', 'no answer from Switchboard to message')

// send routes msg through Switchboard and calls reply once with the answer, or a failure.
function send (msg, reply) {
  queue.push({ msg, reply, deadline: Date.now() + HUB_TIMEOUT, done: false })
  pump()
}

// pump sends queued messages while there is room.
function pump () {
  if (batching === false) { // old Switchboard: one emit per message, as many as asked
    if (hub.connected) for (const it of queue.splice(0)) emitMessages([it])
    return
  }
  while (queue.length > 0 && hub.connected) {
    if (unanswered.size >= MAX_UNANSWERED) return
    if (batching === undefined && [...unanswered].some((e) => e.array)) return // see above
    emitMessages(queue.splice(0, MAX_BATCH))
  }
}

// emitMessages sends items: one as a plain `message`, several as one array.
function emitMessages (items) {
  const e = { items, array: items.length > 1 }
  unanswered.add(e)
  hub.emit('message', e.array ? items.map((it) => it.msg) : items[0].msg, (res) => answered(e, res))
}

function answered (e, res) {
  if (!unanswered.delete(e)) return // already failed: timed out, or the connection ended
  if (!e.array) {
    answer(e.items[0], res)
  } else if (res && res.ok === true && Array.isArray(res.results)) {
    batching = true
    e.items.forEach((it, i) => answer(it, res.results[i]))
  } else if (res && res.ok === false && res.code === 'BAD_REQUEST' && batching === undefined) {
    batching = false
    log(`Switchboard does not take message batches (${res.message}): sending messages one by one`)
    queue.unshift(...e.items.filter((it) => !it.done)) // again, first in line
  } else {
    for (const it of e.items) answer(it, res) // the whole batch failed (or a strange answer)
  }
  pump()
}

// answer replies to a user once.
function answer (it, res) {
  if (it.done) return
  it.done = true
  it.reply(res && typeof res === 'object' ? res : fail('BAD_REPLY', 'unexpected answer'))
}

// One timer for every message: each waits at most HUB_TIMEOUT (plus a tick) for its answer.
setInterval(() => {
  const now = Date.now()
  while (queue.length > 0 && queue[0].deadline <= now) answer(queue.shift(), HUB_MESSAGE_TIMEOUT)
  for (const e of unanswered) {
    for (const it of e.items) if (it.deadline <= now) answer(it, HUB_MESSAGE_TIMEOUT)
    if (e.items.every((it) => it.done)) unanswered.delete(e) // its ack, if it comes, is ignored
  }
  pump()
}, 250).unref()

// failUnanswered answers every message waiting for Switchboard: the connection is gone.
function failUnanswered () {
  const was = unanswered
  unanswered = new Set()
  for (const e of was) for (const it of e.items) answer(it, HUB_MESSAGE_TIMEOUT)
  for (const it of queue.splice(0)) answer(it, HUB_MESSAGE_TIMEOUT)
}

// claimed tells whether a join_subs answer includes `name`.
function claimed (res, name) {
  if (Array.isArray(res.joined)) return res.joined.includes(name)
  return res.ok === true
}

// failureFor picks the per-name failure out of a join_subs answer.
function failureFor (res, name) {
  const f = Array.isArray(res.failed) && res.failed.find((x) => x && x.name === name)
  const e = f || res
  const out = fail(e.code || 'FAILED', e.message || 'refused by Switchboard')
  if (e.holder) out.holder = e.holder
  return out
}

// On EVERY connect (first start, Switchboard restart, network blip): announce our address,
// then re-claim every name and room we hold. A restarted Switchboard knows nothing about us;
// after a short blip our names are orphaned and we take them back (with anything sent to
// them meanwhile, which Switchboard delivers after the ack).
hub.on('connect', () => {
  registered = false
  batching = undefined // a new connection, maybe to another Switchboard: find out again
  const { address, family, port } = server.address()
  const host = family === 'IPv6' || family === 6 ? `[${address}]` : address
  // ack: true — we acknowledge every direct message once it is handed to the user's socket,
  // so Switchboard keeps (and re-delivers) what was in flight if this process dies.
  // batch: true — Switchboard may send several direct messages as one `message` array.
  hub.timeout(HUB_TIMEOUT).emit('address', `http://${host}:${port}`, { ack: true, batch: true }, (err, res) => {
    if (err) res = fail('HUB_TIMEOUT', 'no answer from Switchboard to address')
    if (!res || !res.ok) return log('address refused:', JSON.stringify(res))
    registered = true
    log(`registered as ${res.address}`)
    resync()
  })
})

function resync () {
  const names = [...users.keys()].filter((n) => users.get(n).data.name === n) // skip pending logins
  if (names.length > 0) {
    hubCall('join_subs', names, (res) => {
      for (const n of names) {
        if (claimed(res, n)) continue
        // Someone else took the name while we were away: tell the user and let them go.
        const s = users.get(n)
        if (!s) continue
        users.delete(n)
        s.data.name = null
        s.emit('notice', { text: `your name ${n} was taken while the server was away: ${failureFor(res, n).message}` })
        s.disconnect(true)
      }
      log(`re-claimed ${names.length} name(s):`, JSON.stringify(res))
    })
  }
  for (const room of rooms.keys()) hubEmit('join_room', room)
}

hub.on('connect_error', (err) => {
  // Network errors are retried by the client; a refusal (e.g. a wrong token) stops it: retry slowly.
  if (hub.active) return log(`Switchboard unreachable (${err.message}); retrying`)
  log(`Switchboard refused the connection: ${err.message}; retrying in 30s`)
  setTimeout(() => hub.connect(), 30000).unref()
})
hub.on('disconnect', (reason) => {
  registered = false
  failUnanswered() // Switchboard will never answer them now
  log(`disconnected from Switchboard: ${reason}`)
})
hub.on('error', (e) => log('error from Switchboard:', JSON.stringify(e)))

// A message relayed by Switchboard: {id, from, backend, to, room, data}, or (we announced
// batch: true) an array of them, in the order Switchboard routed them. Direct messages come
// with an ack callback (we announced ack: true), one for a whole array: call it once the users
// have them, naming the recipients who are not here any more ({missing}) so Switchboard finds
// them elsewhere; for an array, one entry per item (null: all handed over).
hub.on('message', (m, ack) => {
  if (Array.isArray(m)) return handleHubBatch(m, ack)
  const missing = []
  try {
    handleHubMessage(m, missing)
  } finally {
    if (typeof ack === 'function') ack(missing.length > 0 ? { missing } : undefined)
  }
})

function handleHubBatch (ms, ack) {
  let acks = null // made on the first item with a missing recipient: [null | {missing}, ...]
  try {
    for (let i = 0; i < ms.length; i++) {
      const missing = []
      handleHubMessage(ms[i], missing)
      if (missing.length > 0) {
        if (!acks) acks = new Array(ms.length).fill(null)
        acks[i] = { missing }
      }
    }
  } finally {
    if (typeof ack === 'function') ack(acks || undefined)
  }
}

function handleHubMessage (m, missing) {
  if (!m || typeof m !== 'object') return
  const d = m.data
  const text = d && typeof d.text === 'string' ? d.text : typeof d === 'string' ? d : JSON.stringify(d)
  const from = typeof m.from === 'string' ? m.from : null
  if (Array.isArray(m.to) && m.to.length > 0) {
    for (const name of m.to) {
      const s = users.get(name)
      if (s && s.data.name === name) s.emit('msg', { kind: 'dm', from, room: null, text, via: m.backend, id: m.id })
      else {
        missing.push(name)
        log(`message ${m.id} for ${name}, who is not here: reported missing`)
      }
    }
  } else if (typeof m.room === 'string' && m.room !== '*') {
    deliverLocal(m.room, { kind: 'room', from, room: m.room, text, via: m.backend, id: m.id }, null)
  } else {
    deliverLocal(null, { kind: 'pub', from, room: null, text, via: m.backend, id: m.id }, null)
  }
}

server.listen(PORT, HOST, () => {
  log(`chat on http://${HOST}:${server.address().port}/ ; joining Switchboard at ${SB_URL}`)
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
  hub.close() // Switchboard drops us from the pool; our names become orphans for a grace period
  userIO.close()
  setTimeout(() => process.exit(0), 500).unref()
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
