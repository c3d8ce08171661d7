'use strict'
// A stand-in for Switchboard's /list channel, for tests of backend.js's batching
// (e2e/chatbatch_test.go): it sees exactly what the backend emits and controls when it answers.
//
//   MODE=new|old PORT=0 node examples/chat/testdata/fakehub.js
//
// MODE=new routes `message` arrays as Switchboard does (one result per item); MODE=old answers
// an array with BAD_REQUEST, as a Switchboard from before batches did. Routing is pretend: a
// name starting with "ghost" is unknown, any other is delivered; nothing is relayed.
//
// Until POST /release, the acks of `message` emits are held (then answered in order); after it,
// answered at once. POST /drop ends the backend's connection without answering what it holds.
// POST /deliver with a JSON body emits it as `message` to the backend and
// answers with what the backend acked: {"acked": <its argument, or null>}.
//
// Output, one JSON line each: READY {"port"}, ADDRESS {"url","opts"},
// EMIT {"array", "items":[messages]} for every `message` the backend sent (in order).

const http = require('node:http')
const { Server } = require('socket.io')

const MODE = process.env.MODE || 'new'
const out = (word, obj) => process.stdout.write(`${word} ${JSON.stringify(obj)}\n`)

let backend = null // the backend's socket once it announced its address
let held = [] // answers waiting for /release
let released = false
let ids = 0

function route (m) {
  const id = `fake-${++ids}`
  if (typeof m.to !== 'string') return { ok: true, id, delivered: [], held: [], unknown: [] }
  if (m.to.startsWith('ghost')) return { ok: true, id, delivered: [], held: [], unknown: [m.to] }
  return { ok: true, id, delivered: [m.to], held: [], unknown: [] }
}

function body (req) {
  return new Promise((resolve) => {
    let s = ''
    req.on('data', (c) => { s += c })
    req.on('end', () => resolve(s))
  })
}

const server = http.createServer(async (req, res) => {
  const reply = (code, obj) => { res.writeHead(code, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(obj)) }
  if (req.method === 'POST' && req.url === '/release') {
    released = true
    for (const fn of held.splice(0)) fn()
    return reply(200, { ok: true })
  }
  if (req.method === 'POST' && req.url === '/drop') { // end the backend's connection, answering nothing
    held = []
    if (backend) backend.disconnect(true)
    return reply(200, { ok: true })
  }
  if (req.method === 'POST' && req.url === '/deliver') {
    const payload = JSON.parse(await body(req))
    if (!backend) return reply(503, { ok: false, message: 'no backend yet' })
    return backend.timeout(10000).emit('message', payload, (err, a) => {
      if (err) return reply(504, { ok: false, message: err.message })
      reply(200, { acked: a === undefined ? null : a })
    })
  }
  reply(404, { ok: false })
})

const io = new Server(server, { path: '/list' })
io.of('/list').on('connection', (socket) => {
  socket.on('address', (url, opts, ack) => {
    backend = socket
    out('ADDRESS', { url, opts })
    ack({ ok: true, id: 'fake-backend', address: url })
  })
  socket.on('join_subs', (names, ack) => ack({ ok: true, joined: [].concat(names), failed: [] }))
  socket.on('leave_subs', (names, ack) => ack({ ok: true, left: [].concat(names), failed: [] }))
  for (const ev of ['join_room', 'leave_room']) socket.on(ev, (room, ack) => ack({ ok: true }))
  socket.on('message', (m, ack) => {
    const array = Array.isArray(m)
    out('EMIT', { array, items: array ? m : [m] })
    let answer
    if (!array) answer = route(m)
    else if (MODE === 'old') answer = { ok: false, code: 'BAD_REQUEST', message: 'message needs an object {to?, room?, data, from?}' }
    else answer = { ok: true, results: m.map(route) }
    if (released) ack(answer)
    else held.push(() => ack(answer))
  })
})

server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => out('READY', { port: server.address().port }))

if (process.send) process.on('disconnect', () => process.exit(0))
