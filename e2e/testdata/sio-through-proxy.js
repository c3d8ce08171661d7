'use strict'
// Connects N times to Switchboard's proxy with the stock socket.io-client,
// default transports (polling, then the upgrade to WebSocket), and asks the
// backend `whoami` over each connection before and after the upgrade.
// Prints: OK <n> <port-before> <port-after> <transport> ... then DONE <ok> <fail>.
const { io } = require('socket.io-client')
const url = process.argv[2]
const n = Number(process.argv[3] || 20)
let ok = 0
let fail = 0

function one (i) {
  return new Promise((resolve) => {
    const s = io(url, { reconnection: false, timeout: 5000, forceNew: true })
    const t = setTimeout(() => { console.log(`FAIL ${i} timeout`); fail++; s.close(); resolve() }, 10000)
    s.on('connect_error', (e) => { console.log(`FAIL ${i} connect_error ${e.message}`); fail++; clearTimeout(t); s.close(); resolve() })
    s.on('connect', () => {
      s.timeout(5000).emit('whoami', (err, before) => {
        if (err) { console.log(`FAIL ${i} whoami ${err.message}`); fail++; clearTimeout(t); s.close(); return resolve() }
        const after = () => s.timeout(5000).emit('whoami', (err2, port2) => {
          clearTimeout(t)
          if (err2) { console.log(`FAIL ${i} whoami-after ${err2.message}`); fail++ } else {
            console.log(`OK ${i} ${before} ${port2} ${s.io.engine.transport.name}`)
            ok++
          }
          s.close()
          resolve()
        })
        if (s.io.engine.transport.name === 'websocket') after()
        else s.io.engine.once('upgrade', after)
      })
    })
  })
}

;(async () => {
  for (let i = 0; i < n; i++) await one(i)
  console.log(`DONE ${ok} ${fail}`)
})()
