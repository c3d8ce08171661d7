'use strict'
// Drives the /list channel with the stock socket.io-client and prints each
// answer as a JSON line: RES <label> <json>. Argument: Switchboard's URL, token.
const { io } = require('socket.io-client')
const url = process.argv[2]
const token = process.argv[3] || ''

function connect (auth) {
  return io(url + '/list', { path: '/list', reconnection: false, forceNew: true, auth })
}

function out (label, v) { console.log(`RES ${label} ${JSON.stringify(v)}`) }

;(async () => {
  // Wrong and missing tokens.
  for (const [label, auth] of [['no-token', {}], ['wrong-token', { token: 'nope' }]]) {
    await new Promise((resolve) => {
      const s = connect(auth)
      s.on('connect_error', (e) => { out(label, { message: e.message }); s.close(); resolve() })
      s.on('connect', () => { out(label, { connected: true }); s.close(); resolve() })
    })
  }
  const s = connect({ token })
  await new Promise((resolve) => s.on('connect', resolve))
  const bad = [
    ['template', 'http://{ip}:{port}'],
    ['no-port', 'http://127.0.0.1'],
    ['userinfo', 'http://u:p@127.0.0.1:3001'],
    ['scheme', 'ws://127.0.0.1:3001'],
    ['own', url],
  ]
  for (const [label, addr] of bad) {
    out(label, await s.timeout(5000).emitWithAck('address', addr))
  }
  // Without an ack the failure arrives as an `error` event.
  const errEv = new Promise((resolve) => s.once('error', resolve))
  s.emit('address', 'http://{ip}:{port}')
  out('no-ack', await errEv)
  // replaced: a second session announcing the same address.
  out('first', await s.timeout(5000).emitWithAck('address', 'http://127.0.0.1:1'))
  const replacedErr = new Promise((resolve) => s.once('error', resolve))
  const disc = new Promise((resolve) => s.once('disconnect', (reason) => resolve(reason)))
  const s2 = connect({ token })
  await new Promise((resolve) => s2.on('connect', resolve))
  out('second', await s2.timeout(5000).emitWithAck('address', 'http://127.0.0.1:1'))
  out('replaced-error', await replacedErr)
  out('replaced-disconnect', { reason: await disc, active: s.active })
  s2.close()
  console.log('DONE')
  process.exit(0)
})().catch((e) => { console.log(`FATAL ${e.stack}`); process.exit(1) })
