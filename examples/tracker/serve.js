'use strict'
// The tracker page's static files: index.html, app.js and the official browser Socket.IO client
// from the npm package (no build step, no CDN). Used two ways:
//   - required by backend.js, which serves the page on its own port (so Switchboard's proxy, or
//     nginx, can hand the page out from any backend);
//   - run directly, as a standalone static server:  PORT=4000 node examples/tracker/serve.js

const fs = require('node:fs')
const path = require('node:path')
const http = require('node:http')

const clientDist = path.join(path.dirname(require.resolve('socket.io-client/package.json')), 'dist')

// Every file we serve, by URL path. Nothing else is reachable (no path traversal to worry about).
const files = {
  '/': [path.join(__dirname, 'index.html'), 'text/html; charset=utf-8'],
  '/index.html': [path.join(__dirname, 'index.html'), 'text/html; charset=utf-8'],
  '/app.js': [path.join(__dirname, 'app.js'), 'text/javascript; charset=utf-8'],
  '/socket.io.min.js': [path.join(clientDist, 'socket.io.min.js'), 'text/javascript; charset=utf-8'],
  '/socket.io.min.js.map': [path.join(clientDist, 'socket.io.min.js.map'), 'application/json']
}

// handler serves the files above; tag (e.g. "node-4001") is sent as X-Served-By.
function handler (tag) {
  return (req, res) => {
    const file = files[req.url.split('?')[0]]
    if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' })
      return res.end(`${tag}: not found\n`)
    }
    fs.readFile(file[0], (err, body) => { // read per request: edit the page, reload, done
      if (err) {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' })
        return res.end(`${tag}: cannot read ${path.basename(file[0])}\n`)
      }
      res.writeHead(200, { 'Content-Type': file[1], 'Cache-Control': 'no-cache', 'X-Served-By': tag })
      res.end(req.method === 'HEAD' ? undefined : body)
    })
  }
}

module.exports = { handler }

if (require.main === module) {
  const port = Number(process.env.PORT || 4000)
  const host = process.env.HOST || '127.0.0.1'
  http.createServer(handler('serve.js')).listen(port, host, () => {
    console.log(`tracker page on http://${host}:${port}/ (add ?tracker=http://127.0.0.1:8080 to point it at Switchboard)`)
  })
}
