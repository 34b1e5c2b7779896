#!/usr/bin/env node
// The official Node.js server with perMessageDeflate on (threshold 0),
// for the Rust client's compression test (core/tests/deflate.rs).
// Prints "listening <port>". Events:
//   "echo" (...args)     emitted back as "echo"
//   "stats" () => ack    { ext, read }: the extensions agreed on this
//                        client's WebSocket and the bytes read from it
// Usage: node deflate_server.js
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const httpServer = http.createServer();
const io = new Server(httpServer, { perMessageDeflate: { threshold: 0 } });
io.on("connection", (socket) => {
  socket.on("echo", (...args) => socket.emit("echo", ...args));
  socket.on("stats", (ack) => {
    const ws = socket.conn.transport.socket;
    ack({ ext: ws ? ws.extensions || "-" : "-", read: ws ? ws._socket.bytesRead : 0 });
  });
});
httpServer.listen(0, "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});
