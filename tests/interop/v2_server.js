#!/usr/bin/env node
// The official Socket.IO 2.x server (Engine.IO protocol 3), for the Rust
// client's protocol 3 test (core/tests/eio3.rs). Prints "listening <port>".
// pingInterval 300 ms, pingTimeout 200 ms: a client that does not ping is
// dropped within half a second.
//   /        whoami (ack: socket.id), echo (emitted back), ack n (ack:
//            n + 1, <Buffer 2a>), ask-me q (asks the client "ask" q and
//            acks its answer), kick (server-side disconnect)
//   /chat    query token must be "abc"; emits welcome(token); echo acks
//   /guarded refuses with "bad token"; /data refuses with data {code: 7}
// Usage: node v2_server.js
"use strict";
const http = require("http");

const server = http.createServer();
const io = require("socket.io-v2")(server, { pingInterval: 300, pingTimeout: 200 });

io.on("connection", (socket) => {
  socket.on("whoami", (ack) => ack(socket.id));
  socket.on("echo", (...args) => socket.emit("echo", ...args));
  socket.on("ack", (n, ack) => ack(n + 1, Buffer.from([42])));
  socket.on("ask-me", (q, ack) => socket.emit("ask", q, (answer) => ack(answer)));
  socket.on("kick", () => socket.disconnect(true));
});
io.of("/chat")
  .use((socket, next) =>
    socket.handshake.query.token === "abc" ? next() : next(new Error("bad token")),
  )
  .on("connection", (socket) => {
    socket.emit("welcome", socket.handshake.query.token);
    socket.on("echo", (v, ack) => ack(v));
  });
io.of("/guarded").use((socket, next) => next(new Error("bad token")));
io.of("/data").use((socket, next) => {
  const e = new Error("refused");
  e.data = { code: 7 };
  next(e);
});
server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
