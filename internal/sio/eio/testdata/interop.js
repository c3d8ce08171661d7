// Drives the npm engine.io-client against a Go eio server (interop_test.go).
// Usage: node interop.js <baseURL> <websocket|polling|upgrade>
// Prints one line per event on stdout; the Go test reads them.
"use strict";
const { Socket } = require("engine.io-client");

const [url, mode] = process.argv.slice(2);
const transports = { websocket: ["websocket"], polling: ["polling"], upgrade: ["polling", "websocket"] }[mode];
const out = (s) => process.stdout.write(s + "\n");

const socket = new Socket(url, { path: "/engine.io/", transports });
socket.on("open", () => {
  out("open " + socket.transport.name);
  socket.send("hello");
  socket.send(Buffer.from([1, 2, 3]));
});
socket.on("upgrade", (t) => {
  out("upgrade " + t.name);
  socket.send("after-upgrade");
  socket.send(Buffer.from([4, 5]));
});
socket.on("message", (data) => {
  if (typeof data === "string") {
    out("text " + data);
  } else {
    out("binary " + Buffer.from(data).toString("hex"));
  }
});
socket.on("close", (reason) => {
  out("close " + reason);
  process.exit(0);
});
socket.on("error", (err) => out("error " + err));
setTimeout(() => {
  out("timeout");
  process.exit(1);
}, 20000);
