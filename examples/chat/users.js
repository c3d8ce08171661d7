'use strict'
// A headless, scriptable chat user (or several) for tests, benchmarks and quick experiments.
//
//   node examples/chat/users.js --url http://127.0.0.1:3001 --name sadman
//   node examples/chat/users.js --url http://127.0.0.1:8080 --name ahsan,baki    (through Switchboard)
//
// Options (environment fallbacks in brackets):
//   --url URL          a chat backend, or Switchboard's proxy in front of them [URL]
//                      (default http://127.0.0.1:8080)
//   --name A[,B...]    the user name(s) to log in as; one connection each [NAME]
//   --ws               WebSocket only (default: the client's polling-then-upgrade)
//   --do JSON          a command to run once logged in, before stdin's (repeatable)
//
// Commands: JSON lines on stdin (or --do). "as" picks the user (default the first name) and an
// optional "id" is echoed in the ACK line:
//   {"dm":"alif","text":"hi"}   {"pub":"hello"}   {"join":"room"}   {"leave":"room"}
//   {"say":"room","text":"hi"}  {"quit":true}
// Output: one JSON line per event on stdout, prefixed with a word:
//   READY {"user","backend"}            logged in (also after a reconnect: RELOGIN)
//   ALL_READY {"users":[...]}           every initial login attempt has finished
//   RECV {"user","kind","from","room","text","via","id"}   (each id once: see firstSeen)
//   ACK {"user","id","cmd","res"}       Switchboard's/backend's answer to a command
//   NOTICE / DISCONNECTED / ERROR {...}  CONNECT_ERROR {...} (a failed attempt; retried)
// End of stdin does not stop the process (tests may give it none): send {"quit":true}, SIGINT
// or SIGTERM.

const readline = require('node:readline')
const { io } = require('socket.io-client')

// --- arguments ---------------------------------------------------------------------------

const opts = { url: process.env.URL || 'http://127.0.0.1:8080', names: process.env.NAME || '', ws: false, dos: [] }
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]
  const next = () => {
    if (i + 1 >= process.argv.length) usage(`${a} needs a value`)
    return process.argv[++i]
  }
  if (a === '--url') opts.url = next()
  else if (a === '--name') opts.names = next()
  else if (a === '--ws') opts.ws = true
  else if (a === '--do') opts.dos.push(next())
  else usage(`unknown argument ${a}`)
}
const names = opts.names.split(',').map((s) => s.trim()).filter(Boolean)
if (names.length === 0) usage('give at least one --name')
if (new Set(names).size !== names.length) usage('names must be distinct')

function usage (msg) {
  console.error(`users.js: ${msg}\nusage: node users.js --url URL --name A[,B...] [--ws] [--do JSON]...`)
  process.exit(2)
}

function out (word, obj) {
  process.stdout.write(`${word} ${JSON.stringify(obj)}\n`)
}

// --- one connection per user -------------------------------------------------------------

const RETRY_CODES = new Set(['HUB_UNAVAILABLE', 'HUB_TIMEOUT', 'TIMEOUT'])
const clients = new Map() // name -> {socket, loggedIn, tried}
let pendingLogins = names.length

for (const name of names) {
  const socket = io(opts.url, { transports: opts.ws ? ['websocket'] : ['polling', 'websocket'] })
  const c = { socket, loggedIn: false, tried: false }
  clients.set(name, c)

  // Log in on every connect: after a reconnect (maybe to another backend, if ours died) this
  // re-claims the name, and Switchboard delivers what was held for us meanwhile. A backend that
  // is not (yet) registered with Switchboard answers HUB_UNAVAILABLE: retry that for a while.
  const login = (attempt) => {
    socket.timeout(10000).emit('login', name, (err, res) => {
      if (err) res = { ok: false, code: 'TIMEOUT', message: 'no answer to login' }
      // After a reconnect our old session may still hold the name until Switchboard notices it
      // died (up to its ping timeout): NAME_TAKEN is worth retrying then, for a minute.
      const retry = res && !res.ok && socket.connected &&
        ((RETRY_CODES.has(res.code) && attempt < 40) || (c.tried && res.code === 'NAME_TAKEN' && attempt < 120))
      if (retry) return setTimeout(() => login(attempt + 1), c.tried ? 500 : 250)
      const first = !c.tried
      c.tried = true
      c.loggedIn = !!(res && res.ok)
      if (c.loggedIn) out(first ? 'READY' : 'RELOGIN', { user: name, backend: res.backend })
      else out('ERROR', { user: name, op: 'login', ...res })
      if (first && --pendingLogins === 0) {
        out('ALL_READY', { users: names.filter((n) => clients.get(n).loggedIn) })
        runQueued()
      }
    })
  }
  socket.on('connect', () => login(0))
  socket.on('connect_error', (err) => {
    // active: the client retries by itself (server down, 503 from a proxy with no backend).
    out(socket.active ? 'CONNECT_ERROR' : 'ERROR', { user: name, op: 'connect', message: err.message })
  })
  socket.on('disconnect', (reason) => {
    c.loggedIn = false
    out('DISCONNECTED', { user: name, reason })
  })
  // Switchboard hands a message out again when the backend that delivered it died before
  // confirming it (at-least-once); it keeps its id, so a user shows each id once.
  socket.on('msg', (m) => { if (firstSeen(c, m.id)) out('RECV', { user: name, ...m }) })
  socket.on('notice', (n) => out('NOTICE', { user: name, ...n }))
}

// firstSeen reports whether id (a message's Switchboard id; absent for a backend's local
// messages) is new for client c, remembering the last 1024 ids.
function firstSeen (c, id) {
  if (typeof id !== 'string') return true
  if (!c.seen) c.seen = new Set()
  if (c.seen.has(id)) return false
  c.seen.add(id)
  if (c.seen.size > 1024) c.seen.delete(c.seen.values().next().value)
  return true
}

// --- commands ----------------------------------------------------------------------------

const queue = [...opts.dos] // commands waiting for ALL_READY
let started = false

function runQueued () {
  started = true
  for (const line of queue.splice(0)) run(line)
}

function submit (line) {
  if (!line.trim()) return
  if (started) run(line)
  else queue.push(line)
}

// run executes one JSON command line; bad input is reported, never fatal.
function run (line) {
  let cmd
  try {
    cmd = JSON.parse(line)
  } catch {
    return out('ERROR', { op: 'command', code: 'BAD_COMMAND', message: 'not JSON', line: line.slice(0, 200) })
  }
  if (!cmd || typeof cmd !== 'object' || Array.isArray(cmd)) {
    return out('ERROR', { op: 'command', code: 'BAD_COMMAND', message: 'not an object' })
  }
  if (cmd.quit) return quit()
  if (quitting) return
  const user = cmd.as === undefined ? names[0] : cmd.as
  const c = clients.get(user)
  if (!c) return out('ERROR', { op: 'command', id: cmd.id, code: 'BAD_COMMAND', message: `no user ${user} here` })

  let event, arg
  if ('dm' in cmd) { event = 'dm'; arg = { to: cmd.dm, text: cmd.text } }
  else if ('pub' in cmd) { event = 'pub'; arg = { text: cmd.pub } }
  else if ('say' in cmd) { event = 'say'; arg = { room: cmd.say, text: cmd.text } }
  else if ('join' in cmd) { event = 'join'; arg = cmd.join }
  else if ('leave' in cmd) { event = 'leave'; arg = cmd.leave }
  else return out('ERROR', { op: 'command', id: cmd.id, code: 'BAD_COMMAND', message: 'expected dm, pub, say, join, leave or quit' })

  inflight++
  c.socket.timeout(10000).emit(event, arg, (err, res) => {
    if (err) res = { ok: false, code: 'TIMEOUT', message: `no answer to ${event}` }
    out('ACK', { user, id: cmd.id, cmd: event, res })
    if (--inflight === 0 && quitting) quit()
  })
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
rl.on('line', submit)
rl.on('close', () => {}) // end of stdin: keep running (see the header)

// Started by a test script with an IPC channel (spawn stdio 'ipc'): leave with it, even when it
// is killed with SIGKILL, so no orphan keeps the port.
if (process.send) process.on('disconnect', () => process.exit(0))

// quit waits (at most 5 s) for the answers to commands already sent, then leaves.
let inflight = 0
let quitting = false
function quit () {
  quitting = true
  if (inflight > 0) return void setTimeout(exit, 5000)
  exit()
}
function exit () {
  for (const c of clients.values()) c.socket.close()
  process.exit(0)
}
process.on('SIGINT', exit)
process.on('SIGTERM', exit)
