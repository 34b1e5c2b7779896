#!/usr/bin/env node
// The official socket.io-client against a Python-hosted oxsio server (the
// app of test_interop.py::test_js_client_against_python_server).
// Usage: NODE_PATH=tests/interop/node_modules node js_client.js <url> <websocket|polling|upgrade>
// Prints "ok <step>" per step and "ALL OK" at the end; exit code 0 on success.
"use strict";

const { io } = require("socket.io-client");
const assert = require("assert");

const [url, mode] = process.argv.slice(2);
const transports = { websocket: ["websocket"], polling: ["polling"], upgrade: ["polling", "websocket"] }[mode];
if (!url || !transports) {
  console.error("usage: node js_client.js <url> <websocket|polling|upgrade>");
  process.exit(2);
}
setTimeout(() => { console.log("FAIL: global timeout"); process.exit(1); }, 30000).unref();

const once = (s, ev) => new Promise((resolve) => s.once(ev, (...args) => resolve(args)));

async function main() {
  const s = io(url, { transports, auth: { token: "js" }, reconnection: false, timeout: 5000 });
  s.on("question", (q, cb) => cb("a!"));
  const hello = once(s, "hello");
  await once(s, "connect");
  const [h] = await hello;
  assert.strictEqual(h.sid, s.id);
  assert.ok(Buffer.isBuffer(h.bin) && h.bin.equals(Buffer.from([1, 2])), "binary in hello");
  console.log("ok connect+hello");

  assert.strictEqual(await s.timeout(5000).emitWithAck("add", 2, 3), 5);
  console.log("ok ack");

  const r = await s.timeout(5000).emitWithAck("upload", { name: "f" }, Buffer.from([9, 8, 7]));
  assert.strictEqual(r.name, "f");
  assert.strictEqual(r.size, 3);
  assert.ok(Buffer.from(r.first).equals(Buffer.from([9, 8])), "binary in ack");
  console.log("ok binary upload");

  const answer = once(s, "answer");
  s.emit("ask");
  assert.deepStrictEqual(await answer, ["a!"]);
  console.log("ok server call");

  const caught = once(s, "caught");
  s.emit("whatever", 1, "x");
  assert.deepStrictEqual(await caught, [["whatever", [1, "x"]]]);
  console.log("ok catch-all");

  s.disconnect();
  await new Promise((r) => setTimeout(r, 100));
  console.log("ALL OK");
  process.exit(0);
}

main().catch((e) => { console.log("FAIL:", e && e.stack ? e.stack : e); process.exit(1); });
