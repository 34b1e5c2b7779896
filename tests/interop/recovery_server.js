#!/usr/bin/env node
// The official socket.io server with connection state recovery, driven by
// the Rust test (core/tests/recovery_interop.rs) over stdin/stdout.
// Prints "listening <port>", then "connection <id> <recovered>" for each
// socket. Commands on stdin, one per line:
//   all <n>      io.emit("n", n)
//   room <n>     io.to("news").emit("n", n)
//   sid <n>      io.to(<last socket id>).emit("n", n)
//   rooms        prints "rooms <json of the last socket's rooms>"
// Usage: node recovery_server.js <port>   (binds 127.0.0.1 only)
"use strict";
const http = require("http");
const readline = require("readline");
const { Server } = require("socket.io");

const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: 300,
  pingTimeout: 200,
  connectionStateRecovery: { maxDisconnectionDuration: 60000 },
});
let last = null;
io.on("connection", (socket) => {
  if (!socket.recovered) socket.join("news");
  last = socket;
  console.log(`connection ${socket.id} ${socket.recovered}`);
});
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const [cmd, arg] = line.trim().split(" ");
  const n = Number(arg);
  if (cmd === "all") io.emit("n", n);
  else if (cmd === "room") io.to("news").emit("n", n);
  else if (cmd === "sid" && last) io.to(last.id).emit("n", n);
  else if (cmd === "rooms" && last) console.log(`rooms ${JSON.stringify([...last.rooms])}`);
});
process.stdin.on("end", () => process.exit(0));
httpServer.listen(Number(process.argv[2] || 0), "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});
