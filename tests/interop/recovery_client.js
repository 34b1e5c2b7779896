#!/usr/bin/env node
// The official socket.io-client against a server with connection state
// recovery, driven by the Rust test (core/tests/recovery_interop.rs) that
// reads these lines on stdout:
//   connected <id> <recovered>     on every connect
//   disconnect <reason>            on every disconnect
//   got <n> <typeof last argument> on every "n" event (the server's offset
//                                  stays in the handler's arguments)
// Usage: node recovery_client.js <url> <websocket|polling>
"use strict";
const { io } = require("socket.io-client");

const [url, transport] = process.argv.slice(2);
const socket = io(url, {
  transports: [transport],
  reconnectionDelay: 100,
  reconnectionDelayMax: 100,
  randomizationFactor: 0,
});
socket.on("connect", () => {
  console.log(`connected ${socket.id} ${socket.recovered}`);
});
socket.on("disconnect", (reason) => {
  console.log(`disconnect ${reason}`);
});
socket.on("n", (...args) => {
  console.log(`got ${args[0]} ${typeof args[args.length - 1]} ${args.length}`);
});
socket.on("bye", () => {
  socket.disconnect();
  process.exit(0);
});
setTimeout(() => {
  console.log("FAIL timeout");
  process.exit(1);
}, 60000).unref();
