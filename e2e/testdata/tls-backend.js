'use strict'
// A backend on plain HTTP that registers with Switchboard over TLS with the
// stock socket.io-client (polling first, then the upgrade to wss), trusting
// the given CA file. It answers every request with the X-Forwarded-Proto it
// received. Prints: REGISTERED <ack json>, UPGRADED <transport>.
// Arguments: Switchboard's https URL, CA file, the backend's port.
const fs = require('fs')
const http = require('http')
const { io } = require('socket.io-client')
const [url, caFile, port] = process.argv.slice(2)

const server = http.createServer((req, res) => {
  res.end('proto=' + req.headers['x-forwarded-proto'])
})
server.listen(Number(port), '127.0.0.1', () => {
  const s = io(url + '/list', { path: '/list', ca: fs.readFileSync(caFile), reconnection: false })
  s.io.engine.on('upgrade', (t) => console.log('UPGRADED ' + t.name))
  s.on('connect_error', (e) => console.log('FAIL connect_error ' + e.message))
  s.on('connect', async () => {
    const ack = await s.timeout(5000).emitWithAck('address', 'http://127.0.0.1:' + port)
    console.log('REGISTERED ' + JSON.stringify(ack))
  })
})
