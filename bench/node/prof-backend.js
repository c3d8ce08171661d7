// prof-backend.js runs the chat backend (examples/chat/backend.js) under V8's CPU profiler for
// PROF_MS milliseconds (default 14000, enough for a step of the messaging scenario), then writes
// PROF_DIR/<PORT>.cpuprofile (default: the system's temporary directory), readable by Chrome's
// DevTools or any .cpuprofile tool. Use it as the switchboard side's backend:
//   bench/run.sh messaging -sides switchboard -kinds dm -d 8s -dm-rates 20000 \
//     -sb-backend bench/node/prof-backend.js
const inspector = require('node:inspector')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const dir = process.env.PROF_DIR || os.tmpdir()
const session = new inspector.Session()
session.connect()
session.post('Profiler.enable', () => session.post('Profiler.start', () => {}))
setTimeout(() => {
  session.post('Profiler.stop', (err, res) => {
    if (err) return console.error('profiler:', err.message)
    const file = path.join(dir, `${process.env.PORT || 'backend'}.cpuprofile`)
    fs.writeFileSync(file, JSON.stringify(res.profile))
    console.log('profile written to', file)
  })
}, Number(process.env.PROF_MS || 14000)).unref()

require('../../examples/chat/backend.js')
