#!/usr/bin/env node
// Interop scenarios run by the official socket.io-client against a server that
// implements the app described in APP.md (oxsio, or reference_server.js).
//
// Usage: node client_scenarios.js <base-url> <websocket|polling|upgrade>
//   e.g. node client_scenarios.js http://127.0.0.1:3000 upgrade
// Env:   ONLY=<scenario name>   run a single scenario
//        PARSER=msgpack         use socket.io-msgpack-parser (the server must too)
//
// Prints one line per scenario: "ok <name>" or "FAIL <name>: <why>".
// Exit code 0 only if every scenario passed. Always exits (global watchdog).
"use strict";

const util = require("util");
const { io } = require("socket.io-client");

const SCENARIO_TIMEOUT_MS = 5000;
const GLOBAL_TIMEOUT_MS = 58000;
const ABSENCE_MS = 300;

const base = (process.argv[2] || "").replace(/\/+$/, "");
const mode = process.argv[3];
const MODES = { websocket: ["websocket"], polling: ["polling"], upgrade: ["polling", "websocket"] };
if (!base || !MODES[mode]) {
  console.error("usage: node client_scenarios.js <base-url> <websocket|polling|upgrade>");
  process.exit(2);
}
const transports = MODES[mode];
// The packet parser of every client (the default one unless PARSER=msgpack).
const parserOpt = process.env.PARSER === "msgpack" ? { parser: require("socket.io-msgpack-parser") } : {};
if (process.env.PARSER && process.env.PARSER !== "msgpack") {
  console.error(`unknown PARSER ${process.env.PARSER}`);
  process.exit(2);
}

// ------------------------------------------------------------------ helpers

let scenarioSockets = [];

// A fresh socket with its own Manager (forceNew) so scenarios never share
// connections by accident. Listeners for "welcome" are set up immediately so
// the event emitted right after CONNECT cannot be missed.
function client(nsp = "", opts = {}) {
  const s = io(base + nsp, {
    transports,
    forceNew: true,
    reconnection: false,
    timeout: 4000,
    ...parserOpt,
    ...opts,
  });
  track(s);
  return s;
}

function track(s) {
  scenarioSockets.push(s);
  s.__welcome = once(s, "welcome");
  s.__welcome.catch(() => {});
  return s;
}

function once(emitter, ev) {
  return new Promise((resolve) => emitter.once(ev, (...args) => resolve(args)));
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Resolves when connected, rejects on connect_error.
function connected(s) {
  if (s.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onConnect = () => { s.off("connect_error", onErr); resolve(); };
    const onErr = (err) => { s.off("connect", onConnect); reject(new Error(`connect_error: ${err && err.message}`)); };
    s.once("connect", onConnect);
    s.once("connect_error", onErr);
  });
}

// Connect and wait for the welcome event; returns the welcome payload.
async function connectWelcome(s) {
  await connected(s);
  const [w] = await s.__welcome;
  return w;
}

// Records every occurrence of an event (args arrays).
function collect(s, ev) {
  const got = [];
  s.on(ev, (...args) => got.push(args));
  return got;
}

// Waits until `got` (from collect) has at least one entry.
// Gives up after the scenario timeout so no polling loop outlives its scenario.
async function first(got) {
  const deadline = Date.now() + SCENARIO_TIMEOUT_MS;
  while (got.length === 0) {
    if (Date.now() > deadline) throw new Error("event never arrived");
    await sleep(5);
  }
  return got[0];
}

function isBinary(x) {
  return Buffer.isBuffer(x) || x instanceof ArrayBuffer || ArrayBuffer.isView(x);
}

// Normalise every binary value to a Buffer, so Buffer/ArrayBuffer/TypedArray
// compare by bytes.
function norm(x) {
  if (Buffer.isBuffer(x)) return x;
  if (x instanceof ArrayBuffer) return Buffer.from(x);
  if (ArrayBuffer.isView(x)) return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  if (Array.isArray(x)) return x.map(norm);
  if (x && typeof x === "object") {
    const o = {};
    for (const k of Object.keys(x)) o[k] = norm(x[k]);
    return o;
  }
  return x;
}

function show(x) {
  return util.inspect(x, { depth: 6, breakLength: Infinity, maxStringLength: 80 });
}

function assertEqual(actual, expected, what) {
  if (!util.isDeepStrictEqual(norm(actual), norm(expected))) {
    throw new Error(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

function assert(cond, what) {
  if (!cond) throw new Error(what);
}

// Every binary in `expected` must be binary (not a placeholder/base64) in `actual`.
function assertBinaryAt(actual, expected, path = "$") {
  if (isBinary(expected)) {
    assert(isBinary(actual), `${path} should be binary, got ${show(actual)}`);
    return;
  }
  if (expected && typeof expected === "object") {
    assert(actual && typeof actual === "object", `${path} should be an object, got ${show(actual)}`);
    for (const k of Object.keys(expected)) assertBinaryAt(actual[k], expected[k], `${path}.${k}`);
  }
}

// Multi-argument ack with a timeout: resolves with the ack's argument list.
function emitAck(s, ev, ...args) {
  return new Promise((resolve, reject) => {
    s.timeout(4000).emit(ev, ...args, (err, ...res) => (err ? reject(new Error(`no ack for "${ev}": ${err.message}`)) : resolve(res)));
  });
}

// In "upgrade" mode the connection must end up on websocket; otherwise it
// must stay on the single requested transport.
async function checkTransport(s) {
  const engine = s.io.engine;
  if (!engine) throw new Error("no engine");
  if (mode === "upgrade") {
    if (engine.transport.name !== "websocket") {
      await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`not upgraded to websocket (transport=${engine.transport.name})`)), 3000);
        engine.once("upgrade", () => { clearTimeout(t); resolve(); });
        engine.once("upgradeError", (e) => { clearTimeout(t); reject(new Error(`upgradeError: ${e && e.message}`)); });
      });
    }
    assert(engine.transport.name === "websocket", `transport is ${engine.transport.name}, expected websocket after upgrade`);
  } else {
    assert(engine.transport.name === mode, `transport is ${engine.transport.name}, expected ${mode}`);
  }
}

// Asserts nothing arrived on any of the collectors after ABSENCE_MS.
async function expectAbsent(pairs) {
  await sleep(ABSENCE_MS);
  for (const [got, who] of pairs) {
    assert(got.length === 0, `${who} should not have received it, got ${show(got)}`);
  }
}

// ---------------------------------------------------------------- scenarios

const scenarios = [];
function scenario(name, fn) { scenarios.push({ name, fn }); }

scenario("connect-welcome", async () => {
  const auth = { token: "good", user: "alice", n: 1, nested: { list: [1, "x", null] } };
  const s = client("", { auth });
  const w = await connectWelcome(s);
  assert(typeof s.id === "string" && s.id.length > 0, `socket.id missing: ${show(s.id)}`);
  assert(w && w.sid === s.id, `welcome.sid ${show(w && w.sid)} != socket.id ${show(s.id)}`);
  assertEqual(w.auth, auth, "welcome.auth");
});

scenario("json-echo", async () => {
  const s = client();
  await connectWelcome(s);
  const args = [1, "two", { a: [true, null, 3.5] }, "€✓ unicode"];
  const p = once(s, "echo");
  s.emit("echo", ...args);
  assertEqual(await p, args, "echo args");
});

scenario("binary-echo", async () => {
  const s = client();
  await connectWelcome(s);
  const all = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  const args = [
    { buf: Buffer.from([1, 2, 3]), list: [Buffer.from("xyz"), { deep: Buffer.alloc(0) }] },
    Buffer.from([0, 1, 2, 253, 254, 255]),
    "after-binary",
    all,
  ];
  const p = once(s, "echo");
  s.emit("echo", ...args);
  const got = await p;
  assertBinaryAt(got, args);
  assertEqual(got, args, "binary echo args");
});

scenario("client-ack", async () => {
  const s = client();
  await connectWelcome(s);
  // emitWithAck resolves with the first ack argument only.
  const json = { a: 1, b: [true, null, 3.5], s: "€✓" };
  assertEqual(await s.timeout(4000).emitWithAck("echo-ack", json), json, "emitWithAck JSON");
  const bin = { buf: Buffer.from([9, 8, 7]), list: [Buffer.from("xyz"), { deep: Buffer.alloc(0) }] };
  const gotBin = await s.timeout(4000).emitWithAck("echo-ack", bin);
  assertBinaryAt(gotBin, bin);
  assertEqual(gotBin, bin, "emitWithAck binary");
  // Several args, mixed JSON and binary, all come back in the ack.
  const multi = [1, "two", Buffer.from([0xde, 0xad]), { x: [Buffer.from("q"), null] }, "€"];
  const gotMulti = await emitAck(s, "echo-ack", ...multi);
  assertBinaryAt(gotMulti, multi);
  assertEqual(gotMulti, multi, "multi-arg ack");
  // An ack with no arguments.
  assertEqual(await emitAck(s, "echo-ack"), [], "empty ack");
});

scenario("server-ack", async () => {
  const s = client();
  await connectWelcome(s);
  s.on("question", (data, cb) => {
    if (typeof cb === "function") cb("reply", data);
  });
  const errs = collect(s, "answer-error");
  const data = { q: "life", n: 42, bin: Buffer.from([4, 2]), list: ["€✓", null] };
  const p = once(s, "answer");
  s.emit("ask-client", data);
  const got = await Promise.race([
    p,
    (async () => { const [m] = await first(errs); throw new Error(`answer-error: ${show(m)}`); })(),
  ]);
  assertBinaryAt(got, ["reply", data]);
  assertEqual(got, ["reply", data], "answer args");
});

scenario("namespaces", async () => {
  // Deliberately NOT forceNew: io(url) and io(url + "/admin") share a Manager
  // (multiplexing). No other scenario populates the Manager cache.
  const opts = { transports, reconnection: false, timeout: 4000, ...parserOpt };
  const a = track(io(base, opts));
  const b = track(io(base + "/admin", opts));
  assert(a.io === b.io, "sockets for / and /admin do not share one Manager");
  const [wa, wb] = await Promise.all([connectWelcome(a), connectWelcome(b)]);
  assert(wa.sid === a.id, `/ welcome.sid ${show(wa.sid)} != ${show(a.id)}`);
  assert(wb.sid === b.id, `/admin welcome.sid ${show(wb.sid)} != ${show(b.id)}`);
  assert(wb.nsp === "/admin", `/admin welcome.nsp = ${show(wb.nsp)}`);
  assert(a.id !== b.id, "socket ids of / and /admin must differ");
  assert(a.io.engine === b.io.engine, "not one engine connection");
  const echoesA = collect(a, "echo");
  const args = ["admin", { n: [1, 2] }, Buffer.from([5, 6])];
  const p = once(b, "echo");
  b.emit("echo", ...args);
  const got = await p;
  assertBinaryAt(got, args);
  assertEqual(got, args, "/admin echo");
  // And / still works on the same connection.
  const p2 = once(a, "echo");
  a.emit("echo", "root");
  assertEqual(await p2, ["root"], "/ echo");
  assert(echoesA.length === 1, `/ received ${echoesA.length} echo events, expected 1 (the /admin echo leaked?)`);
});

scenario("unknown-namespace", async () => {
  const s = client("/nope");
  const result = await new Promise((resolve) => {
    s.once("connect", () => resolve({ connected: true }));
    s.once("connect_error", (err) => resolve({ err }));
  });
  assert(!result.connected, "connected to /nope, expected connect_error");
  assert(result.err.message === "Invalid namespace", `connect_error message ${show(result.err.message)}`);
});

scenario("rooms", async () => {
  const A = client(), B = client(), C = client();
  await Promise.all([connectWelcome(A), connectWelcome(B), connectWelcome(C)]);

  assertEqual(await emitAck(A, "join", "r1"), ["joined", "r1"], "A join ack");
  assertEqual(await emitAck(B, "join", "r1"), ["joined", "r1"], "B join ack");

  // to-room r1 from C (not in r1): A and B get it, C does not.
  let ra = collect(A, "room-msg"), rb = collect(B, "room-msg"), rc = collect(C, "room-msg");
  C.emit("to-room", "r1", "room-msg", { x: 1 });
  assertEqual(await first(ra), [{ x: 1 }], "A room-msg");
  assertEqual(await first(rb), [{ x: 1 }], "B room-msg");
  await expectAbsent([[rc, "C (not in r1)"]]);
  assert(ra.length === 1 && rb.length === 1, `duplicate room-msg: A=${ra.length} B=${rb.length}`);

  // to-room-except all \ r1: only C.
  const ea = collect(A, "ex-msg"), eb = collect(B, "ex-msg"), ec = collect(C, "ex-msg");
  A.emit("to-room-except", "all", "r1", "ex-msg", 1);
  assertEqual(await first(ec), [1], "C ex-msg");
  await expectAbsent([[ea, "A (in r1)"], [eb, "B (in r1)"]]);

  // broadcast from A: B and C, not A.
  const ba = collect(A, "bc"), bb = collect(B, "bc"), bcc = collect(C, "bc");
  A.emit("broadcast", "bc", 7);
  assertEqual(await first(bb), [7], "B bc");
  assertEqual(await first(bcc), [7], "C bc");
  await expectAbsent([[ba, "A (sender of broadcast)"]]);

  // A leaves r1; to-room r1 (sent by A) reaches only B.
  assertEqual(await emitAck(A, "leave", "r1"), ["left", "r1"], "A leave ack");
  const la = collect(A, "room-msg2"), lb = collect(B, "room-msg2"), lc = collect(C, "room-msg2");
  A.emit("to-room", "r1", "room-msg2", { x: 2 });
  assertEqual(await first(lb), [{ x: 2 }], "B room-msg2");
  await expectAbsent([[la, "A (left r1)"], [lc, "C (not in r1)"]]);
});

scenario("auth-accepted", async () => {
  const auth = { token: "good", room: "vip" };
  const s = client("", { auth });
  const w = await connectWelcome(s);
  assert(w.sid === s.id, `welcome.sid ${show(w.sid)} != ${show(s.id)}`);
  assertEqual(w.auth, auth, "welcome.auth");
  const p = once(s, "vip-msg");
  s.emit("to-room", "vip", "vip-msg", { hello: "vip" });
  assertEqual(await p, [{ hello: "vip" }], "vip-msg");
});

scenario("auth-rejected", async () => {
  const s = client("", { auth: { token: "bad" } });
  const result = await new Promise((resolve) => {
    s.once("connect", () => resolve({ connected: true }));
    s.once("connect_error", (err) => resolve({ err }));
  });
  assert(!result.connected, "connected with a bad token, expected connect_error");
  assert(result.err.message === "unauthorized", `connect_error message ${show(result.err.message)}`);
  assertEqual(result.err.data, { reason: "bad token" }, "connect_error data");
});

scenario("server-disconnect", async () => {
  const s = client();
  await connectWelcome(s);
  await checkTransport(s);
  const p = once(s, "disconnect");
  s.emit("disconnect-me");
  const [reason] = await p;
  assert(reason === "io server disconnect", `disconnect reason ${show(reason)}`);
});

scenario("client-disconnect", async () => {
  const observer = client();
  await connectWelcome(observer);
  await emitAck(observer, "observe");
  const peer = client();
  await connectWelcome(peer);
  await checkTransport(peer);
  const sid = peer.id;
  const seen = [];
  observer.on("peer-disconnect", (info) => { if (info && info.sid === sid) seen.push(info); });
  const localReason = once(peer, "disconnect");
  peer.disconnect();
  const [lr] = await localReason;
  assert(lr === "io client disconnect", `peer's local disconnect reason ${show(lr)}`);
  const [info] = [await first(seen)];
  assertEqual(info, { sid, reason: "client namespace disconnect" }, "peer-disconnect");
});

scenario("max-payload", async () => {
  const s = client();
  await connectWelcome(s);
  await checkTransport(s);
  // A msgpack packet is binary: over polling it travels base64-encoded (4/3
  // of its size), so 90 000 bytes would exceed maxPayload there, as with Node.
  const fits = parserOpt.parser && mode === "polling" ? 70000 : 90000;
  const n = await s.timeout(4000).emitWithAck("size", "a".repeat(fits));
  assert(n === fits, `size ack ${show(n)}, expected ${fits}`);

  const big = client();
  await connectWelcome(big);
  await checkTransport(big); // in upgrade mode: send the big packet over websocket
  const acks = [];
  const outcome = new Promise((resolve) => {
    big.once("disconnect", (reason) => resolve({ reason }));
    big.timeout(4000).emit("size", "b".repeat(200000), (err, size) => {
      if (!err) { acks.push(size); resolve({ acked: size }); }
    });
  });
  const r = await outcome;
  assert(!("acked" in r), `oversized packet (200000 bytes > maxPayload 100000) was acked with ${show(r.acked)} instead of killing the connection`);
  assert(r.reason === "transport close" || r.reason === "transport error",
    `disconnect reason ${show(r.reason)}, expected "transport close" or "transport error"`);
  await sleep(100);
  assert(acks.length === 0, `oversized packet was acked: ${show(acks)}`);
  // The first client is unaffected.
  assert(s.connected, "the other client got disconnected too");
});

// ------------------------------------------------------------------- runner

let current = "(startup)";
let failed = 0;

function closeAll(sockets) {
  for (const s of sockets) {
    try { s.removeAllListeners(); s.disconnect(); } catch (_) { /* ignore */ }
  }
}

function finish(code) {
  closeAll(scenarioSockets);
  // Give close packets a moment to leave, then exit no matter what.
  setTimeout(() => process.exit(code), 100);
}

const watchdog = setTimeout(() => {
  console.log(`FAIL ${current}: global timeout (${GLOBAL_TIMEOUT_MS} ms) exceeded`);
  process.exit(1);
}, GLOBAL_TIMEOUT_MS);

process.on("uncaughtException", (e) => {
  console.log(`FAIL ${current}: uncaught exception: ${e && e.stack ? e.stack.split("\n")[0] : e}`);
  process.exit(1);
});
process.on("unhandledRejection", () => { /* losing races of Promise.race: ignore */ });

async function runOne({ name, fn }) {
  current = name;
  scenarioSockets = [];
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${SCENARIO_TIMEOUT_MS} ms`)), SCENARIO_TIMEOUT_MS);
  });
  try {
    await Promise.race([
      (async () => {
        await fn();
        // Every socket still connected must be on the expected transport.
        for (const s of scenarioSockets) if (s.connected) await checkTransport(s);
      })(),
      timeout,
    ]);
    console.log(`ok ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${(e && e.message ? e.message : String(e)).replace(/\n/g, " ")}`);
  } finally {
    clearTimeout(timer);
    closeAll(scenarioSockets);
    scenarioSockets = [];
  }
}

(async () => {
  let list = scenarios;
  if (process.env.ONLY) {
    list = scenarios.filter((s) => s.name === process.env.ONLY);
    if (list.length === 0) {
      console.log(`FAIL ${process.env.ONLY}: no such scenario (have: ${scenarios.map((s) => s.name).join(", ")})`);
      process.exit(1);
    }
  }
  for (const sc of list) {
    await runOne(sc);
    await sleep(20); // let the closes settle between scenarios
  }
  clearTimeout(watchdog);
  console.error(`summary (${mode}): ${list.length - failed}/${list.length} scenarios ok`);
  finish(failed === 0 ? 0 : 1);
})();
