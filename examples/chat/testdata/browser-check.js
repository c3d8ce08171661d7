'use strict'
// Real-browser check of the chat page (headless Chromium through playwright-core), against
// running backends (see ../run.sh): two users on two different backends log in through the
// page, exchange a direct message and a public one, and a taken name is refused.
//
//   node examples/chat/testdata/browser-check.js [URL_A URL_B]   (default :3001 and :3002)
//
// Environment: CHROMIUM (default /usr/bin/chromium), SCREENSHOT (default chat-page.png).
// Prints "OK" and exits 0, or "FAIL ..." and exits 1.

const { chromium } = require('playwright-core')

const [urlA, urlB] = process.argv.length > 3 ? process.argv.slice(2, 4) : ['http://127.0.0.1:3001/', 'http://127.0.0.1:3002/']
const SCREENSHOT = process.env.SCREENSHOT || 'chat-page.png'

async function login (browser, url, name) {
  const page = await browser.newPage()
  page.on('pageerror', (err) => console.log('page error:', err.message))
  await page.goto(url)
  await page.fill('#name', name)
  await page.click('#login button')
  await page.waitForSelector('#chat:not(.hidden)', { timeout: 15000 })
  return page
}

async function send (page, to, text) {
  await page.fill('#to', to)
  await page.fill('#text', text)
  await page.click('#send button')
}

const seen = (page, text) => page.waitForFunction((t) =>
  [...document.querySelectorAll('#log div')].some((d) => d.textContent === t), text, { timeout: 15000 })

async function main () {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] })
  try {
    const a = await login(browser, urlA, 'sadman')
    const b = await login(browser, urlB, 'ihsan')
    console.log(`- sadman on ${urlA}, ihsan on ${urlB}`)

    await send(a, 'ihsan', 'hello ihsan')
    await seen(b, 'sadman → me: hello ihsan')
    await seen(a, 'me → ihsan: hello ihsan')
    console.log('- direct message across backends')

    await send(b, '', 'hello everyone')
    await seen(a, 'ihsan: hello everyone')
    console.log('- public message across backends')

    await send(a, 'nobody-here', 'hi')
    await seen(a, 'me → nobody-here: hi (no such user)')
    console.log('- unknown user reported')

    // The name is held on another backend: the page is told it is taken.
    const c = await browser.newPage()
    await c.goto(urlA)
    const dialog = new Promise((resolve) => c.once('dialog', async (d) => { resolve(d.message()); await d.dismiss() }))
    await c.fill('#name', 'ihsan')
    await c.click('#login button')
    const msg = await dialog
    if (!/taken/.test(msg)) throw new Error(`expected "taken", got ${msg}`)
    console.log(`- taken name refused: ${msg}`)

    await b.screenshot({ path: SCREENSHOT })
    console.log('OK')
    return 0
  } finally {
    await browser.close()
  }
}

main().then((code) => process.exit(code), (err) => { console.log('FAIL', err.message); process.exit(1) })
