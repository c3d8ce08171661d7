// A reference engine.io server for our Go client (interop_test.go).
// Usage: node server.js <pingIntervalMs> <pingTimeoutMs>
// Prints "port <n>" once listening; echoes every message; a message
// "close-me" makes it close the socket. Prints "heartbeat" per pong.
"use strict";
const http = require("http");
const engine = require("engine.io");

const [pingInterval, pingTimeout] = process.argv.slice(2).map(Number);
const httpServer = http.createServer();
const server = new engine.Server({ pingInterval, pingTimeout, path: "/engine.io/" });
httpServer.on("request", (req, res) => server.handleRequest(req, res));
httpServer.on("upgrade", (req, socket, head) => server.handleUpgrade(req, socket, head));

server.on("connection", (socket) => {
  process.stdout.write("connection " + socket.transport.name + "\n");
  socket.send("welcome");
  socket.send(Buffer.from([0xca, 0xfe]));
  socket.on("heartbeat", () => process.stdout.write("heartbeat\n"));
  socket.on("upgrade", (t) => process.stdout.write("upgrade " + t.name + "\n"));
  socket.on("message", (data) => {
    if (data === "close-me") {
      socket.close();
      return;
    }
    socket.send(data);
  });
  socket.on("close", (reason) => process.stdout.write("close " + reason + "\n"));
});
httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write("port " + httpServer.address().port + "\n");
});
