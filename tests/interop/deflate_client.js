#!/usr/bin/env node
// The official socket.io-client over WebSocket with Node's `ws`, which
// offers permessage-deflate (threshold 1024, engine.io-client's default).
// Driven by core/tests/deflate.rs. Emits "echo" with a 200 kB text and a
// 100 kB buffer, checks both come back intact, and prints one line:
//   ok <extensions or -> read=<bytes read> written=<bytes written>
// Usage: node deflate_client.js <url>
"use strict";
const { io } = require("socket.io-client");

const [url] = process.argv.slice(2);
const socket = io(url, { transports: ["websocket"], reconnection: false, timeout: 5000 });
const text = "oxsio ".repeat(200000 / 6);
const buf = Buffer.alloc(100000, 7);

function fail(msg) {
  console.log(`FAIL ${msg}`);
  process.exit(1);
}

socket.on("connect", () => {
  socket.emit("echo", text, buf);
});
socket.on("echo", (t, b) => {
  if (t !== text) fail("text differs");
  if (!Buffer.isBuffer(b) || !b.equals(buf)) fail("buffer differs");
  const ws = socket.io.engine.transport.ws;
  const raw = ws._socket;
  console.log(`ok ${ws.extensions || "-"} read=${raw.bytesRead} written=${raw.bytesWritten}`);
  socket.disconnect();
  process.exit(0);
});
socket.on("connect_error", (err) => fail(`connect_error ${err.message}`));
setTimeout(() => fail("timeout"), 15000).unref();
