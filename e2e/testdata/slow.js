'use strict'
// Backpressure without loss. Role "recv": a backend that holds `slowpoke`
// and burns CPU on every message (a slow consumer); prints GOT <n> <in-order>
// after N messages. Role "send": a backend sending N direct messages to
// slowpoke with 64 acks in flight; prints SENT <delivered> <other>.
const { io } = require('socket.io-client')
const [url, role, port, nStr] = process.argv.slice(2)
const N = Number(nStr)
const s = io(url + '/list', { path: '/list', reconnection: false, transports: ['websocket'] })
s.on('connect', async () => {
  const res = await s.timeout(5000).emitWithAck('address', `http://127.0.0.1:${port}`, { ack: true })
  if (!res.ok) { console.log('FATAL ' + JSON.stringify(res)); process.exit(1) }
  if (role === 'recv') {
    let n = 0
    let inOrder = true
    s.on('message', (m, ack) => {
      const until = Date.now() + 1 // ~1 ms of work per message
      while (Date.now() < until) {}
      if (m.data !== n) inOrder = false
      n++
      ack()
      if (n === N) console.log(`GOT ${n} ${inOrder}`)
    })
    const j = await s.timeout(5000).emitWithAck('join_subs', 'slowpoke')
    console.log('READY ' + JSON.stringify(j))
    return
  }
  let next = 0
  let delivered = 0
  let other = 0
  await new Promise((resolve) => {
    const pump = () => {
      if (next >= N) return
      const i = next++
      s.timeout(60000).emit('message', { to: 'slowpoke', data: i }, (err, r) => {
        if (!err && r.ok && r.delivered.length === 1) delivered++
        else other++
        if (delivered + other === N) resolve()
        else pump()
      })
    }
    for (let k = 0; k < 64; k++) pump()
  })
  console.log(`SENT ${delivered} ${other}`)
})
