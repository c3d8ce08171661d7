// The tracker page: ask Switchboard's tracker which backends exist, connect to every one of them,
// and show the messages of all of them ("Principles (Easy to Implement)" in the original README).
// Plain browser JavaScript, no build step; `io` comes from socket.io.min.js.
//
// Query parameters: ?tracker=URL (default: this page's origin), ?trackerPath=/tracker,
// ?channel=lobby.
'use strict'

const params = new URLSearchParams(location.search)
const TRACKER = params.get('tracker') || location.origin
const TRACKER_PATH = params.get('trackerPath') || '/tracker'
const CHANNEL = params.get('channel') || 'lobby'
const MAX_MESSAGES = 200

const $ = (sel) => document.querySelector(sel)
const servers = new Map() // server id -> {info: {id, url, meta}, socket, li}
const messages = new Map() // message id -> {li, via: Set of server names}
let home = null // the server our messages go through; picked at random among connected ones

// --- the tracker -------------------------------------------------------------------------

const tracker = io(TRACKER, { path: TRACKER_PATH })
tracker.on('connect', () => setTrackerState('connected'))
tracker.on('disconnect', () => setTrackerState('disconnected'))
tracker.on('connect_error', (err) => setTrackerState('error: ' + err.message))

// `servers` comes on every (re)connect with the whole list: make ours match it.
tracker.on('servers', (list) => {
  if (!Array.isArray(list)) return
  const ids = new Set()
  for (const s of list) if (addServer(s)) ids.add(s.id)
  for (const id of [...servers.keys()]) if (!ids.has(id)) removeServer(id)
})
tracker.on('server_joined', (s) => addServer(s))
tracker.on('server_left', (s) => { if (s && typeof s.id === 'string') removeServer(s.id) })

function setTrackerState (state) {
  const el = $('#tracker')
  el.dataset.state = state.startsWith('error') ? 'error' : state
  el.textContent = `${TRACKER}${TRACKER_PATH} — ${state}`
}

// --- the backends ------------------------------------------------------------------------

// addServer connects to a listed server (once per id); returns false for an unusable entry.
function addServer (s) {
  if (!s || typeof s.id !== 'string' || typeof s.url !== 'string') return false
  if (servers.has(s.id)) return true
  let url
  try { url = new URL(s.url) } catch { return false }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false
  const name = (s.meta && typeof s.meta.name === 'string' && s.meta.name) || s.url

  const li = document.createElement('li')
  li.dataset.id = s.id
  li.dataset.url = s.url
  li.dataset.name = name
  li.textContent = `${name} — ${s.url}`
  $('#servers').append(li)

  // A URL may carry a path prefix (e.g. behind nginx: http://host/b/4001): the Socket.IO path
  // goes under it. forceNew: several servers may share one origin, and the client would
  // otherwise reuse the first one's connection.
  const socket = io(url.origin, { path: url.pathname.replace(/\/+$/, '') + '/socket.io', forceNew: true })
  const entry = { info: s, name, socket, li }
  servers.set(s.id, entry)
  setState(entry, 'connecting')
  socket.on('connect', () => setState(entry, 'connected'))
  socket.on('disconnect', () => setState(entry, 'disconnected'))
  socket.on('message', (m) => showMessage(m, name))
  updateCount()
  return true
}

function removeServer (id) {
  const entry = servers.get(id)
  if (!entry) return
  servers.delete(id)
  entry.socket.close()
  entry.li.remove()
  if (home === entry) home = null
  updateCount()
  showHome()
}

function setState (entry, state) {
  entry.li.dataset.state = state
  if (home === entry && state !== 'connected') home = null
  showHome()
}

function updateCount () {
  $('#servers').dataset.count = String(servers.size)
}

function pickHome () {
  if (home && home.socket.connected) return home
  const up = [...servers.values()].filter((e) => e.socket.connected)
  home = up.length ? up[Math.floor(Math.random() * up.length)] : null
  showHome()
  return home
}

function showHome () {
  $('#home').textContent = home ? `via ${home.name}` : ''
  $('#home').dataset.server = home ? home.name : ''
}

// --- messages ----------------------------------------------------------------------------

// showMessage adds a message once, however many servers deliver it: the origin server sends it
// to its users itself, and every other server gets it relayed through Switchboard.
function showMessage (m, serverName) {
  if (!m || typeof m.id !== 'string' || typeof m.text !== 'string' || m.channel !== CHANNEL) return
  let msg = messages.get(m.id)
  if (!msg) {
    const li = document.createElement('li')
    li.dataset.id = m.id
    li.dataset.from = String(m.from)
    li.dataset.origin = String(m.origin)
    const text = document.createElement('span')
    text.textContent = `${m.from}: ${m.text} ` // textContent: never parsed as HTML
    const via = document.createElement('span')
    via.className = 'via'
    li.append(text, via)
    $('#messages').append(li)
    msg = { li, via: new Set(), viaEl: via }
    messages.set(m.id, msg)
    while (messages.size > MAX_MESSAGES) {
      const [oldest] = messages.keys()
      messages.get(oldest).li.remove()
      messages.delete(oldest)
    }
    $('#messages').scrollTop = $('#messages').scrollHeight
  }
  msg.via.add(serverName)
  msg.li.dataset.via = [...msg.via].sort().join(',')
  msg.viaEl.textContent = `(sent on ${m.origin}; received via ${msg.li.dataset.via})`
}

$('#send').addEventListener('submit', (e) => {
  e.preventDefault()
  const entry = pickHome()
  if (!entry) return alert('no server connected')
  const text = $('#text').value
  const from = $('#from').value.trim() || 'anonymous'
  entry.socket.timeout(5000).emit('chat', { channel: CHANNEL, text, from }, (err, res) => {
    if (err || !res.ok) alert(`not sent: ${err ? 'no answer' : res.message}`)
  })
  $('#text').value = ''
})
