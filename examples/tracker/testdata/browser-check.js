'use strict'
// Real-browser check of the tracker example (headless Chromium through playwright-core).
// Needs Switchboard (or anything speaking its /list + /tracker protocol) on SB_URL; starts the
// three backends itself (BASE_PORT+1..3) and loads the page, then checks that the page
//   1. lists three servers,
//   2. loses one when its backend is killed (SIGKILL) and gets it back when it restarts,
//   3. shows a message a scripted user sent through another server, delivered to the page by
//      every server (relayed through Switchboard).
//
//   node examples/tracker/testdata/browser-check.js
//
// Environment: SB_URL (default http://127.0.0.1:8080), SB_TOKEN, BASE_PORT (default 4000),
// PAGE_URL (default SB_URL + "/": the page through Switchboard's proxy), CHROMIUM
// (default /usr/bin/chromium), SCREENSHOT (default tracker-page.png in the working directory),
// PUBLIC_BASE (set it to nginx's origin for the nginx.conf layout: each backend then announces
// PUBLIC_BASE/b/PORT as the URL browsers use).
//
// The nginx layout (Switchboard --tracker-only on :8080, nginx.conf on :8000):
//   SB_URL=http://127.0.0.1:8000 PUBLIC_BASE=http://127.0.0.1:8000 node examples/tracker/testdata/browser-check.js
// Prints "OK ..." and exits 0, or "FAIL ..." and exits 1.

const path = require('node:path')
const { spawn } = require('node:child_process')
const { io } = require('socket.io-client')
const { chromium } = require('playwright-core')

const SB_URL = process.env.SB_URL || 'http://127.0.0.1:8080'
const BASE = Number(process.env.BASE_PORT || 4000)
const PAGE_URL = process.env.PAGE_URL || `${SB_URL}/`
const SCREENSHOT = process.env.SCREENSHOT || 'tracker-page.png'
const PUBLIC_BASE = process.env.PUBLIC_BASE || '' // e.g. http://127.0.0.1:8000: backends at /b/PORT (nginx.conf)
const ports = [BASE + 1, BASE + 2, BASE + 3]
const pageOrigin = new URL(PAGE_URL).origin
const procs = new Map() // port -> child

function startBackend (port) {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'backend.js')], {
    env: {
      ...process.env,
      PORT: String(port),
      SB_URL,
      PAGE_ORIGINS: pageOrigin,
      PUBLIC_URL: PUBLIC_BASE ? `${PUBLIC_BASE}/b/${port}` : `http://127.0.0.1:${port}`
    },
    // ipc: the backend exits when this script does, even if it is killed with SIGKILL.
    stdio: ['ignore', process.env.VERBOSE ? 'inherit' : 'ignore', 'inherit', 'ipc']
  })
  procs.set(port, child)
  return child
}

function step (msg) { console.log(`- ${msg}`) }

// serverNames waits until the page's server list is exactly `want` (all connected).
async function serverNames (page, want) {
  await page.waitForFunction((want) => {
    const lis = [...document.querySelectorAll('#servers li[data-id]')]
    const names = lis.filter((li) => li.dataset.state === 'connected').map((li) => li.dataset.name).sort()
    return lis.length === want.length && JSON.stringify(names) === JSON.stringify(want)
  }, want.map((p) => `node-${p}`).sort(), { timeout: 20000 })
}

// waitReady waits (at most 30 s) until every backend answers on its own port and Switchboard
// lists all of them: a page loaded earlier would meet a backend still starting, and nginx (the
// nginx.conf layout serves the page from the backends) then marks it down for 10 s.
async function waitReady () {
  const deadline = Date.now() + 30000
  for (;;) {
    const up = await Promise.all(ports.map((p) => fetch(`http://127.0.0.1:${p}/`).then((r) => r.ok, () => false)))
    if (up.every(Boolean)) {
      const list = await fetch(`${SB_URL}/tracker/servers`, { headers: { Origin: pageOrigin } })
        .then((r) => (r.ok ? r.json() : []), () => [])
      if (Array.isArray(list) && list.length >= ports.length) return
    }
    if (Date.now() > deadline) throw new Error('backends not listening and registered within 30 s')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function main () {
  for (const p of ports) startBackend(p)
  await waitReady()
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] })
  try {
    const page = await browser.newPage()
    page.on('pageerror', (err) => console.log('page error:', err.message))
    await page.goto(PAGE_URL)

    await serverNames(page, ports)
    step('page lists three servers')

    const victim = ports[2]
    procs.get(victim).kill('SIGKILL')
    await serverNames(page, ports.slice(0, 2))
    step(`server node-${victim} disappeared after SIGKILL`)

    startBackend(victim)
    await serverNames(page, ports)
    step(`server node-${victim} is back after restart`)

    // A user on the first backend only; the page must get the message from every server.
    const user = io(`http://127.0.0.1:${ports[0]}`, { transports: ['websocket'], extraHeaders: { Origin: pageOrigin } })
    const res = await new Promise((resolve, reject) => {
      user.on('connect_error', reject)
      user.on('connect', () => user.timeout(5000).emit('chat', { channel: 'lobby', text: 'hello from a scripted user', from: 'bot' },
        (err, res) => (err ? reject(err) : resolve(res))))
    })
    user.close()
    if (!res.ok || !res.relayed) throw new Error(`chat not relayed: ${JSON.stringify(res)}`)
    const want = ports.map((p) => `node-${p}`).sort().join(',')
    await page.waitForSelector(`#messages li[data-id="${res.id}"][data-via="${want}"]`, { timeout: 10000 })
    step(`message sent on node-${ports[0]} reached the page via ${want}`)

    // The page's own form: sent through one server (its "home"), shown once, via every server.
    await page.fill('#from', 'page')
    await page.fill('#text', 'hello from the page')
    await page.click('#send button')
    await page.waitForSelector(`#messages li[data-from="page"][data-via="${want}"]`, { timeout: 10000 })
    step(`the page's own message came back via ${want}`)

    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    step(`screenshot: ${SCREENSHOT}`)
    console.log('OK')
    return 0
  } catch (err) {
    const state = await browser.contexts()[0]?.pages()[0]?.evaluate(() =>
      `tracker: ${document.querySelector('#tracker').textContent}\nservers: ${document.querySelector('#servers').outerHTML}`).catch(() => '')
    throw new Error(`${err.message}\n${state}`)
  } finally {
    await browser.close()
  }
}

main().then((code) => { for (const c of procs.values()) c.kill(); process.exit(code) },
  (err) => { console.log('FAIL', err.message); for (const c of procs.values()) c.kill(); process.exit(1) })
