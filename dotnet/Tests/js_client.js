#!/usr/bin/env node
// The official socket.io-client against the C# server of dotnet/Tests.
// Usage: node js_client.js <url> <websocket|polling|upgrade>
// Scenario: connect with auth {name:"js"}; on "welcome" emit "chat" with an
// ack; send nested binary on "bin" and check the echo; answer the server's
// "question" ack; on "done" print "ok <final transport> <details>" and exit.
// Any failure prints "error <why>" and exits 1.
"use strict";
const { io } = require("socket.io-client");

const [url, mode] = process.argv.slice(2);
const opts = {
  transports: mode === "websocket" ? ["websocket"] : mode === "polling" ? ["polling"] : ["polling", "websocket"],
  upgrade: mode === "upgrade",
  reconnection: false,
  timeout: 5000,
  auth: { name: "js" },
};
const fail = (why) => { console.log(`error ${why}`); process.exit(1); };
const socket = io(url, opts);
const seen = [];
let upgraded = mode !== "upgrade";
let done = false;
socket.io.on("open", () => {
  socket.io.engine.on("upgrade", (t) => { upgraded = true; seen.push(`upgrade:${t.name}`); finish(); });
});
socket.on("connect_error", (err) => fail(`connect_error ${err.message}`));
socket.on("welcome", (data) => {
  seen.push(`welcome:${data.name}`);
  socket.emit("chat", "hi", (a, b) => {
    seen.push(`chat-ack:${a},${b}`);
    socket.emit("bin", { deep: [Buffer.from([9, 8, 7])], flat: Buffer.from([]) }, "tail");
  });
});
socket.on("bin", (obj, tail) => {
  const deep = Buffer.from(obj.deep[0]);
  if (!deep.equals(Buffer.from([9, 8, 7])) || Buffer.from(obj.flat).length !== 0 || tail !== "tail")
    fail(`bad binary echo ${JSON.stringify(obj)}`);
  seen.push("bin-echo");
});
socket.on("question", (q, ack) => {
  seen.push(`question:${q}`);
  ack("answer-from-js", q);
});
socket.on("done", () => { done = true; finish(); });
function finish() {
  if (!done || !upgraded) return;
  console.log(`ok ${socket.io.engine.transport.name} ${seen.join(" ")}`);
  socket.disconnect();
  process.exit(0);
}
setTimeout(() => fail(`timeout; seen ${seen.join(" ")}`), 15000).unref();
