'use strict'
// Presence and messaging rules driven by backends on the stock npm
// socket.io-client (each "backend" is one /list session). Prints one line per
// check: CHECK <name> <json> — the Go test asserts on them — then DONE.
const { io } = require('socket.io-client')
const url = process.argv[2]

function out (name, v) { console.log(`CHECK ${name} ${JSON.stringify(v)}`) }

async function backend (port, opts = {}) {
  const s = io(url + '/list', { path: '/list', reconnection: false, forceNew: true, transports: opts.transports })
  s.inbox = []
  s.on('message', (m) => s.inbox.push(m))
  await new Promise((resolve, reject) => { s.on('connect', resolve); s.on('connect_error', reject) })
  const res = await s.timeout(5000).emitWithAck('address', `http://127.0.0.1:${port}`)
  if (!res.ok) throw new Error('address refused: ' + JSON.stringify(res))
  s.call = (ev, ...args) => s.timeout(5000).emitWithAck(ev, ...args)
  return s
}

// sync: an acked round trip orders everything the hub sent before it.
async function sync (s) { await s.call('join_room', '__sync') }

;(async () => {
  const [a, b, c] = await Promise.all([backend(4101), backend(4102), backend(4103, { transports: ['polling'] })])

  // Concurrent claims of one name from three backends: exactly one wins.
  for (let round = 0; round < 10; round++) {
    const name = `racer${round}`
    const rs = await Promise.all([a, b, c].map((s) => s.call('join_subs', name)))
    out('race', { wins: rs.filter((r) => r.ok).length, codes: rs.filter((r) => !r.ok).map((r) => r.code) })
  }

  // Holder rules and the original subs_exists contract.
  await a.call('join_subs', ['sadman', 'alif'])
  out('leave-non-holder', await b.call('leave_subs', 'alif'))
  out('exists', await new Promise((resolve) => b.emit('subs_exists', 'alif', (e, h) => resolve([e, h]))))
  out('exists-unknown', await new Promise((resolve) => b.emit('subs_exists', 'ghost', (e, h) => resolve([e, h]))))

  // Malformed payloads: documented error, nothing changes.
  out('bad-to', await a.call('message', { to: 42, data: 1 }))
  out('bad-message', await a.call('message', 'not an object'))
  out('bad-name', await a.call('join_subs', ''))
  out('bad-room', await a.call('join_room', { room: 'x' }))
  out('unknown-event', await a.call('frobnicate', 1))
  out('still-held', await new Promise((resolve) => c.emit('subs_exists', 'alif', (e, h) => resolve([e, h]))))

  // Room isolation and sender exclusion.
  await a.call('join_room', 'lobby')
  await b.call('join_room', 'lobby')
  out('room-send', await a.call('message', { room: 'lobby', data: 'in lobby' }))
  out('public-send', await b.call('message', { data: 'to everyone' }))
  await Promise.all([sync(a), sync(b), sync(c)])
  out('room-inboxes', { a: a.inbox.map((m) => m.data), b: b.inbox.map((m) => m.data), c: c.inbox.map((m) => m.data) })
  a.inbox.length = b.inbox.length = c.inbox.length = 0

  // Direct to a name the sender holds itself: delivered to it.
  out('self', await a.call('message', { to: 'sadman', data: 'note to self' }))
  await sync(a)
  out('self-inbox', a.inbox.map((m) => [m.to, m.data]))

  // Mailbox limits: the holder dies; more messages than the mailbox holds
  // are sent; the oldest are dropped; a re-claim gets the rest in order.
  const d = await backend(4104)
  await d.call('join_subs', 'ihsan')
  d.close()
  for (let i = 0; i < 500; i++) { // until the hub has seen the disconnect (bounded)
    const [e, h] = await new Promise((resolve) => b.emit('subs_exists', 'ihsan', (e, h) => resolve([e, h])))
    if (e && h === null) break
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const held = []
  for (let i = 0; i < 8; i++) held.push(await b.call('message', { to: 'ihsan', data: i }))
  out('held', held.map((r) => r.held))
  out('orphan-exists', await new Promise((resolve) => b.emit('subs_exists', 'ihsan', (e, h) => resolve([e, h]))))
  const claim = await c.call('join_subs', 'ihsan')
  await b.call('message', { to: 'ihsan', data: 'newer' })
  await sync(c)
  out('reclaim', { claim, got: c.inbox.map((m) => m.data) })

  for (const s of [a, b, c]) s.close()
  console.log('DONE')
  process.exit(0)
})().catch((e) => { console.log(`FATAL ${e.stack}`); process.exit(1) })
