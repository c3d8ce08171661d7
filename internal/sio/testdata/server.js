// Reference socket.io@4.8.4 server for our Go client's interop tests.
// Usage: node server.js <port|0>; prints "listening <port>".
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 0);
const out = (...a) => console.log(a.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" "));
const httpServer = http.createServer();
const io = new Server(httpServer, { pingInterval: 2000, pingTimeout: 2000 });

for (const name of ["/", "/admin"]) {
  const nsp = io.of(name);
  nsp.use((socket, next) => {
    if (socket.handshake.auth && socket.handshake.auth.token === "bad") {
      const err = new Error("not authorized");
      err.data = { code: 4 };
      return next(err);
    }
    next();
  });
  nsp.on("connection", (socket) => {
    out("connection", name, socket.id, JSON.stringify(socket.handshake.auth));
    socket.on("echo", (...args) => {
      const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
      if (cb) cb(...args);
      else socket.emit("echo", ...args);
    });
    // Server → client ack: ask the client, report its answer.
    socket.on("please-ask", async (x) => {
      try {
        const r = await socket.timeout(5000).emitWithAck("ask", x);
        socket.emit("asked", r);
      } catch (e) {
        socket.emit("asked", "error " + e.message);
      }
    });
    socket.on("please-bin", async () => {
      const r = await socket.timeout(5000).emitWithAck("bin", Buffer.from("hello"));
      socket.emit("binasked", Buffer.isBuffer(r) ? r.toString() : "not a buffer: " + JSON.stringify(r));
    });
    socket.on("please-disconnect", () => socket.disconnect());
    socket.on("disconnect", (reason) => out("disconnect", name, reason));
  });
}

httpServer.listen(port, "127.0.0.1", () => out("listening", httpServer.address().port));
