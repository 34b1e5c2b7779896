#!/usr/bin/env node
// The official socket.io-client over https/wss, driven by core/tests/tls.rs.
// Connects with the given CA (and client certificate, if given), emits
// "echo" and prints one line:
//   ok <transport> <echoed argument>   the server echoed over TLS
//   error <message>                    connect_error (e.g. certificate refused)
// Usage: node tls_client.js <url> <websocket|polling> <ca.pem> [cert.pem key.pem]
"use strict";
const fs = require("fs");
const { io } = require("socket.io-client");

const [url, transport, ca, cert, key] = process.argv.slice(2);
const opts = {
  transports: transport === "polling" ? ["polling"] : ["websocket"],
  upgrade: false,
  reconnection: false,
  timeout: 5000,
  ca: fs.readFileSync(ca),
  rejectUnauthorized: true,
};
if (cert) {
  opts.cert = fs.readFileSync(cert);
  opts.key = fs.readFileSync(key);
}
const socket = io(url, opts);
socket.on("connect", () => {
  socket.emit("echo", "over tls");
});
socket.on("echo", (arg) => {
  console.log(`ok ${socket.io.engine.transport.name} ${arg}`);
  socket.disconnect();
  process.exit(0);
});
socket.on("connect_error", (err) => {
  const detail = err.description && err.description.message ? `: ${err.description.message}` : "";
  console.log(`error ${err.message}${detail}`);
  process.exit(0);
});
setTimeout(() => {
  console.log("error timeout");
  process.exit(0);
}, 10000).unref();
