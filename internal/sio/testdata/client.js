// Interop driver: the npm socket.io-client@4.8.4 against our Go server.
// Usage: node client.js <url> <scenario>; env TRANSPORTS=websocket|polling
// (comma-separated; default: the client's default, polling then upgrade).
// Prints one event per line on stdout for the Go test to expect.
"use strict";
const { Manager } = require("socket.io-client");

const [url, scenario] = process.argv.slice(2);
const transports = process.env.TRANSPORTS ? process.env.TRANSPORTS.split(",") : undefined;
const opts = {
  transports,
  reconnectionDelay: 50,
  reconnectionDelayMax: 200,
  randomizationFactor: 0.2,
  timeout: 5000,
};
const out = (...a) => {
  const l = a.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" ");
  console.log(l);
  if (scenario !== "load") console.error(new Date().toISOString(), l); // shown when a test fails
};
process.on("uncaughtException", (e) => { console.error(String(e && e.stack || e)); process.exit(1); });

function watchEngine(manager) {
  manager.on("open", () => {
    out("open", manager.engine.transport.name);
    manager.engine.on("upgrade", (t) => out("upgrade", t.name));
    manager.engine.on("close", (r, d) => out("engine_close", r, String(d && (d.description || d.message || d))));
  });
  manager.on("reconnect_attempt", (n) => out("reconnect_attempt", n));
}

function hex(b) { return Buffer.from(b).toString("hex"); }

async function basic() {
  const manager = new Manager(url, opts);
  watchEngine(manager);
  const root = manager.socket("/", { auth: { token: "good" } });
  const admin = manager.socket("/admin");
  root.on("echo", (...args) => out("echo", args.map((a) => (Buffer.isBuffer(a) ? "buf:" + hex(a) : a))));
  root.on("ask", (x, cb) => cb("answer", x));
  root.on("bin", (buf, cb) => cb(Buffer.concat([Buffer.from(buf), Buffer.from("!")])));
  root.on("disconnect", (reason) => out("disconnect", "/", reason, "active=" + root.active));
  admin.on("disconnect", (reason) => out("disconnect", "/admin", reason, "active=" + admin.active));
  await Promise.all([once(root, "connect"), once(admin, "connect")]);
  // With the default transports the connect may come before or after the
  // upgrade (it travels over polling while the probe runs): wait for the
  // upgrade, so the lines come in one order and whoami sees websocket.
  if (!transports && manager.engine.transport.name === "polling") await once(manager.engine, "upgrade");
  out("connected", root.id, admin.id);
  // client → server without ack; the server emits "echo" back.
  root.emit("echo", { a: [1, 2] }, "x");
  // acks on both namespaces: whoami answers namespace and transport.
  for (const s of [root, admin]) {
    const r = await new Promise((res) => s.timeout(5000).emit("whoami", (err, nsp, tr) => res(err ? String(err) : nsp + " " + tr)));
    out("whoami", r);
  }
  // binary both ways: the server acks with what it got.
  const r = await new Promise((res) => root.timeout(5000).emit("echo", Buffer.from([1, 2, 3]), "t", (err, b, t) => res(err ? String(err) : "buf:" + hex(b) + " " + t)));
  out("binack", r);
  out("ready");
}

async function auth() {
  const manager = new Manager(url, opts);
  const bad = manager.socket("/admin", { auth: { token: "bad" } });
  bad.on("connect_error", (err) => out("connect_error", err.message, err.data, "active=" + bad.active));
  const nope = manager.socket("/nope");
  nope.on("connect_error", (err) => out("connect_error_nsp", err.message));
  const good = manager.socket("/", { auth: { token: "good" } });
  good.on("connect", () => out("connected", good.id));
}

async function reconnect() {
  const manager = new Manager(url, opts);
  watchEngine(manager);
  const s = manager.socket("/", { auth: { token: "good" } });
  let n = 0;
  s.on("connect", () => out("connected", ++n, s.id));
  s.on("disconnect", (reason) => out("disconnect", reason, "active=" + s.active));
  s.on("echo", (...a) => out("echo", a));
}

async function big() {
  const manager = new Manager(url, { ...opts, reconnection: false });
  watchEngine(manager);
  const s = manager.socket("/");
  s.on("disconnect", (reason) => out("disconnect", reason));
  await once(s, "connect");
  out("connected", manager.engine.transport.name);
  s.emit("echo", "y".repeat(Number(process.env.BIG || 20000)));
}

// load: N clients connected (in waves of 100, so handshakes do not all
// time out together on a loaded machine), then each does K sequential
// acked round trips, all clients at once; then "done <ok> <failed>".
async function load() {
  const n = Number(process.env.N || 500), k = Number(process.env.K || 5);
  const sockets = [];
  let ok = 0, failed = 0;
  const tick = setInterval(() => console.error("progress connected=" + sockets.length + " ok=" + ok + " failed=" + failed), 2000);
  for (let b = 0; b < n; b += 100) {
    await Promise.all(Array.from({ length: Math.min(100, n - b) }, async () => {
      const manager = new Manager(url, { ...opts, timeout: 20000, transports: ["websocket"], reconnection: false });
      const s = manager.socket("/");
      await once(s, "connect");
      sockets.push(s);
    }));
  }
  out("connected", sockets.length);
  if (process.env.GO_FILE) { // wait for the test's go-ahead: all processes connected
    const fs = require("fs");
    while (!fs.existsSync(process.env.GO_FILE)) await new Promise((r) => setTimeout(r, 20));
  }
  await Promise.all(sockets.map(async (s, i) => {
    for (let j = 0; j < k; j++) {
      try {
        const r = await s.timeout(20000).emitWithAck("echo", i, j);
        if (r === i) ok++; else failed++;
      } catch (e) { failed++; }
    }
  }));
  clearInterval(tick);
  out("done", ok, failed);
  for (const s of sockets) s.disconnect();
  out("closed");
}

function once(emitter, ev) {
  return new Promise((res, rej) => {
    emitter.once(ev, res);
    if (ev === "connect") emitter.once("connect_error", (e) => rej(e));
  });
}

({ basic, auth, reconnect, big, load })[scenario]().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
