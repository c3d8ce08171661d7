'use strict'
// Smoke test of the chat example: the original README's table made true.
// Needs Switchboard and three chat backends running (see ../run.sh), then:
//
//   node examples/chat/testdata/smoke.js [URL3001 URL3002 URL3003]
//
// Logs in sadman and alif on the first backend, ihsan on the second, ahsan and baki on the
// third (users.js, one process per backend), sends a direct message over every ordered pair of
// the five users and one public message, checks that each arrives exactly once, and exits 0
// (all good) or 1 (with what was missing).

const path = require('node:path')
const { spawn } = require('node:child_process')

const urls = process.argv.slice(2)
if (urls.length === 0) urls.push('http://127.0.0.1:3001', 'http://127.0.0.1:3002', 'http://127.0.0.1:3003')
if (urls.length !== 3) {
  console.error('give three backend URLs (or none for 127.0.0.1:3001-3003)')
  process.exit(2)
}
const table = [['sadman', 'alif'], ['ihsan'], ['ahsan', 'baki']]
const everyone = table.flat()
const procs = []
const recv = [] // RECV objects from every process

function start (url, names) {
  const p = spawn(process.execPath, [path.join(__dirname, '..', 'users.js'), '--url', url, '--name', names.join(',')],
    { stdio: ['pipe', 'pipe', 'inherit', 'ipc'] }) // ipc: users.js exits with us, even on SIGKILL
  p.lines = []
  p.waiters = []
  let buf = ''
  p.stdout.on('data', (d) => {
    buf += d
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      if (process.env.VERBOSE) console.log(`  [${names}] ${line}`)
      const sp = line.indexOf(' ')
      const word = line.slice(0, sp)
      const obj = JSON.parse(line.slice(sp + 1))
      if (word === 'RECV') recv.push(obj)
      p.lines.push([word, obj])
      for (const w of p.waiters.splice(0)) w()
    }
  })
  p.send = (cmd) => p.stdin.write(JSON.stringify(cmd) + '\n')
  procs.push(p)
  return p
}

// until polls cond on every output line, failing after ms.
function until (what, cond, ms = 15000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms)
    const check = () => {
      if (cond()) { clearTimeout(t); resolve() } else for (const p of procs) p.waiters.push(check)
    }
    check()
  })
}

async function main () {
  const ps = table.map((names, i) => start(urls[i], names))
  await until('all logged in', () => ps.every((p) => p.lines.some(([w]) => w === 'ALL_READY')))
  for (const p of ps) {
    const ready = p.lines.find(([w]) => w === 'ALL_READY')[1].users
    if (ready.length !== table[ps.indexOf(p)].length) throw new Error(`login failed: ${JSON.stringify(p.lines)}`)
  }
  console.log('logged in:', table.map((n, i) => `${n.join(', ')} on ${urls[i]}`).join('; '))

  let acks = 0
  for (const from of everyone) {
    const p = ps[table.findIndex((n) => n.includes(from))]
    for (const to of everyone) if (to !== from) { p.send({ as: from, dm: to, text: `${from}>${to}` }); acks++ }
  }
  ps[1].send({ as: 'ihsan', pub: 'hello from ihsan' })
  const want = everyone.length * (everyone.length - 1) + (everyone.length - 1)
  await until(`${want} messages`, () => recv.length >= want).catch(() => {})

  const problems = []
  for (const from of everyone) {
    for (const to of everyone) {
      if (to === from) continue
      const n = recv.filter((r) => r.user === to && r.kind === 'dm' && r.from === from && r.text === `${from}>${to}`).length
      if (n !== 1) problems.push(`${from} -> ${to}: received ${n} times`)
    }
  }
  for (const to of everyone) {
    if (to === 'ihsan') continue
    const n = recv.filter((r) => r.user === to && r.kind === 'pub' && r.from === 'ihsan').length
    if (n !== 1) problems.push(`public ihsan -> ${to}: received ${n} times`)
  }
  const bad = procs.flatMap((p) => p.lines.filter(([w, o]) => w === 'ACK' && !o.res.ok))
  for (const [, o] of bad) problems.push(`refused: ${JSON.stringify(o)}`)
  if (problems.length) {
    console.log('FAIL\n  ' + problems.join('\n  '))
    return 1
  }
  console.log(`OK: ${acks} direct messages over every ordered pair and 1 public message, each received exactly once`)
  return 0
}

main().then((code) => { for (const p of procs) p.kill(); process.exit(code) },
  (err) => { console.error('FAIL', err.message); for (const p of procs) p.kill(); process.exit(1) })
