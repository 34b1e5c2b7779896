#!/usr/bin/env node
// The Admin UI protocol, Node's `instrument` (@socket.io/admin-ui) against
// oxsio's `Server::instrument`: one scenario, driven with socket.io-client
// against each server in turn, records everything each admin namespace
// emits, then compares what must match once ids, dates and timings are
// taken out.
//
// Usage: node admin_compare.js <oxsio-url>
//   The oxsio server (core/tests/admin_interop.rs) runs the app below with
//   instrument(auth admin / s3cret, development mode, serverId "oxsio").
//   This script starts the Node server itself, on 127.0.0.1 port 0, with
//   the same app and instrument(auth admin / s3cret, serverId "node").
// App on "/": "join" (room, ack) → join, ack(); "leave" (room, ack) → leave,
// ack(); "ping" (...args) → emit "pong" (...args); "set-score" (n, ack) →
// socket.data.score = n, ack().
// Prints "ok <check>" / "FAIL <check>" lines, then the recorded event
// sequences when ADMIN_DUMP=1; exits 1 on any failure.
"use strict";

const http = require("http");
const { Server } = require("socket.io");
const { io: connect } = require("socket.io-client");
const { instrument } = require("@socket.io/admin-ui");
const bcrypt = require("bcryptjs");
const assert = require("node:assert/strict");

const OXSIO_URL = process.argv[2];
const USER = "admin";
const PASSWORD = "s3cret";
const STEP_MS = 30000; // every wait is bounded; generous for a loaded machine

let failures = 0;
function check(name, fn) {
  try {
    fn();
    console.log(`ok ${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}\n${e.message}`);
  }
}

function within(promise, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), STEP_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

function startNode() {
  const httpServer = http.createServer();
  const io = new Server(httpServer);
  io.on("connection", (socket) => {
    socket.on("join", (room, ack) => {
      socket.join(room);
      if (typeof ack === "function") ack();
    });
    socket.on("leave", (room, ack) => {
      socket.leave(room);
      if (typeof ack === "function") ack();
    });
    socket.on("ping", (...args) => socket.emit("pong", ...args));
    socket.on("set-score", (n, ack) => {
      socket.data.score = n;
      if (typeof ack === "function") ack();
    });
  });
  instrument(io, {
    auth: { type: "basic", username: USER, password: bcrypt.hashSync(PASSWORD, 4) },
    mode: "development",
    serverId: "node",
  });
  return new Promise((resolve) => {
    httpServer.listen(0, "127.0.0.1", () => {
      resolve({ io, httpServer, url: `http://127.0.0.1:${httpServer.address().port}` });
    });
  });
}

/** Connects a client; resolves once connected. */
function client(url, opts) {
  const s = connect(url, { forceNew: true, reconnection: false, ...opts });
  return new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", (e) => reject(e));
  });
}

/** Runs the scenario against `url`; returns what the admin socket got. */
async function scenario(url) {
  const events = [];
  const waiters = [];
  const admin = connect(url + "/admin", {
    forceNew: true,
    reconnection: false,
    transports: ["websocket"],
    auth: { username: USER, password: PASSWORD },
  });
  admin.onAny((name, ...args) => {
    events.push([name, args]);
    for (const w of waiters.slice()) {
      if (w.name === name && w.pred(args)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(args);
      }
    }
  });
  const counts = () => {
    const c = {};
    for (const [n] of events) c[n] = (c[n] || 0) + 1;
    return c;
  };
  const waitFor = (name, pred = () => true) => {
    const seen = events.find(([n, a]) => n === name && pred(a));
    if (seen) return Promise.resolve(seen[1]);
    return within(
      new Promise((resolve) => waiters.push({ name, pred, resolve })),
      `${name} on ${url}; got ${JSON.stringify(counts())} events, the last ${JSON.stringify(events.slice(-4))}`
    );
  };
  await within(new Promise((r) => admin.once("connect", r)), `admin connect ${url}`);
  await waitFor("config");
  await waitFor("all_sockets");
  const adminId = admin.id;

  // socket.io-client forgets a socket's id on disconnect: keep them.
  const a = await client(url, { transports: ["websocket"] });
  const aId = a.id;
  await waitFor("socket_connected", (x) => x[0].id === aId);
  await a.emitWithAck("join", "lobby");
  await waitFor("room_joined", (x) => x[1] === "lobby" && x[2] === aId);
  const b = await client(url, { transports: ["websocket"] });
  const bId = b.id;
  await waitFor("socket_connected", (x) => x[0].id === bId);
  await b.emitWithAck("join", "lobby");
  await waitFor("room_joined", (x) => x[1] === "lobby" && x[2] === bId);
  const pong = new Promise((r) => a.once("pong", (...args) => r(args)));
  a.emit("ping", 1, "two", { three: [3] });
  await within(pong, "pong");
  await waitFor("event_sent", (x) => x[1] === aId && x[2][0] === "pong");
  await a.emitWithAck("set-score", 42);
  await waitFor("socket_updated", (x) => x[0].id === aId && x[0].data);

  // Commands, as the UI sends them.
  admin.emit("join", "/", "vip", bId);
  await waitFor("room_joined", (x) => x[1] === "vip" && x[2] === bId);
  const news = new Promise((r) => b.once("news", (...args) => r(args)));
  admin.emit("emit", "/", "vip", "news", "hello");
  await within(news, "news");
  await waitFor("event_sent", (x) => x[1] === bId && x[2][0] === "news");
  admin.emit("leave", "/", "lobby", aId);
  await waitFor("room_left", (x) => x[1] === "lobby" && x[2] === aId);
  const bGone = new Promise((r) => b.once("disconnect", r));
  admin.emit("_disconnect", "/", false, bId);
  const bReason = await within(bGone, "b disconnect");
  await waitFor("socket_disconnected", (x) => x[1] === bId);
  a.disconnect();
  await waitFor("socket_disconnected", (x) => x[1] === aId);

  // Polling, then the upgrade.
  const c = await client(url, { transports: ["polling", "websocket"] });
  const cId = c.id;
  await waitFor("socket_updated", (x) => x[0].id === cId && x[0].transport === "websocket");
  c.disconnect();
  await waitFor("socket_disconnected", (x) => x[1] === cId);
  // Stats that counted this traffic (Node sends them every 2 s).
  await waitFor("server_stats", (x) =>
    x[0].aggregatedEvents.some((e) => e.type === "rawDisconnection")
  );

  // Wrong password.
  let refused = null;
  try {
    const bad = await client(url + "/admin", {
      transports: ["websocket"],
      auth: { username: USER, password: "wrong" },
    });
    bad.disconnect();
  } catch (e) {
    refused = e.message;
  }
  const ids = { [adminId]: "ADMIN", [aId]: "A", [bId]: "B", [cId]: "C" };
  admin.disconnect();
  return { events, ids, bReason, refused };
}

// ------------------------------------------------------------- normalising

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function shapeOfHandshake(h) {
  return {
    address: h.address,
    headers: Object.keys(h.headers).sort(),
    query: Object.keys(h.query).sort(),
    issued: typeof h.issued,
    secure: h.secure,
    time: typeof h.time,
    url: h.url.replace(/&t=[^&]*/, "&t=<t>").replace(/&sid=[^&]*/, ""),
    xdomain: h.xdomain,
    keys: Object.keys(h),
  };
}

function normalise(value, ids) {
  if (typeof value === "string") {
    if (ids[value]) return ids[value];
    if (ISO.test(value)) return "<date>";
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => normalise(v, ids));
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === "clientId") out[k] = typeof v === "string" && v.length === 12 ? "<cid>" : v;
      else if (k === "handshake") out[k] = shapeOfHandshake(v);
      else out[k] = normalise(v, ids);
    }
    return out;
  }
  return value;
}

/** The event sequence without stats, `room_left` runs sorted (set order differs). */
function sequence(run) {
  const out = [];
  for (const [name, args] of run.events) {
    if (name === "server_stats") continue;
    if (name === "session") {
      out.push([name, [typeof args[0] === "string" && /^[0-9a-f]{16}$/.test(args[0]) ? "<session>" : args[0]]]);
      continue;
    }
    out.push([name, normalise(args, run.ids)]);
  }
  for (let i = 0; i < out.length; ) {
    let j = i;
    while (j < out.length && out[j][0] === "room_left" && out[j][1][2] === out[i][1][2]) j++;
    if (j > i + 1) {
      const run = out.slice(i, j).sort((x, y) => (x[1][1] < y[1][1] ? -1 : 1));
      out.splice(i, j - i, ...run);
    }
    i = Math.max(j, i + 1);
  }
  return out;
}

function stats(run) {
  return run.events.filter(([n]) => n === "server_stats").map(([, a]) => a[0]);
}

function typeTree(v) {
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  if (typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = typeTree(v[k]);
    return o;
  }
  return typeof v;
}

async function main() {
  if (!OXSIO_URL) throw new Error("usage: node admin_compare.js <oxsio-url>");
  const node = await startNode();
  const ref = await scenario(node.url);
  const ox = await scenario(OXSIO_URL);
  node.io.close();

  const refSeq = sequence(ref);
  const oxSeq = sequence(ox);
  if (process.env.ADMIN_DUMP) {
    console.log("node:", JSON.stringify(refSeq, null, 1));
    console.log("oxsio:", JSON.stringify(oxSeq, null, 1));
  }

  check("the same event sequence (ids, dates, client ids normalised)", () => {
    const n = Math.max(refSeq.length, oxSeq.length);
    for (let i = 0; i < n; i++) {
      assert.deepEqual(
        oxSeq[i],
        refSeq[i],
        `event ${i}: node ${JSON.stringify(refSeq[i])}\n oxsio ${JSON.stringify(oxSeq[i])}`
      );
    }
  });
  check("config, all_sockets, socket_connected present", () => {
    for (const name of ["session", "config", "all_sockets", "socket_connected", "socket_updated",
      "socket_disconnected", "room_joined", "room_left", "event_received", "event_sent"]) {
      assert.ok(oxSeq.some(([n]) => n === name), `no ${name} from oxsio`);
      assert.ok(refSeq.some(([n]) => n === name), `no ${name} from node`);
    }
  });
  const refStats = stats(ref);
  const oxStats = stats(ox);
  check("server_stats: same keys and value types", () => {
    assert.ok(refStats.length > 0 && oxStats.length > 0);
    const tree = (s) => {
      const t = typeTree(s);
      t.aggregatedEvents = "array";
      t.namespaces = "array";
      return t;
    };
    assert.deepEqual(tree(oxStats.at(-1)), tree(refStats.at(-1)));
    for (const [list, who] of [[oxStats, "oxsio"], [refStats, "node"]]) {
      for (const s of list) {
        for (const e of s.aggregatedEvents) {
          assert.ok(["timestamp", "type", "count"].every((k) => k in e), `${who}: ${JSON.stringify(e)}`);
          assert.equal(e.timestamp % 1000, 0, `${who}: timestamps are whole seconds`);
        }
        for (const ns of s.namespaces) assert.deepEqual(Object.keys(ns), ["name", "socketsCount"]);
      }
    }
    assert.equal(oxStats.at(-1).serverId, "oxsio");
    assert.equal(refStats.at(-1).serverId, "node");
  });
  check("server_stats: the same aggregated event types over the run", () => {
    const types = (list) =>
      [...new Set(list.flatMap((s) => s.aggregatedEvents.map((e) => `${e.type}/${e.subType ?? ""}`)))].sort();
    assert.deepEqual(types(oxStats), types(refStats));
  });
  check("server_stats: the same totals of connections and disconnections", () => {
    const total = (list, type) =>
      list.flatMap((s) => s.aggregatedEvents).filter((e) => e.type === type).reduce((n, e) => n + e.count, 0);
    for (const type of ["rawConnection", "rawDisconnection"]) {
      assert.equal(total(oxStats, type), total(refStats, type), type);
    }
  });
  check("server_stats: the same namespaces and counts at the end", () => {
    const last = (list) => list.at(-1).namespaces.slice().sort((x, y) => (x.name < y.name ? -1 : 1));
    assert.deepEqual(last(oxStats), last(refStats));
  });
  check("the disconnected socket's reason and the refused login", () => {
    assert.equal(ox.bReason, ref.bReason);
    assert.equal(ox.refused, ref.refused);
    assert.equal(ox.refused, "invalid credentials");
  });
  console.log(`events compared: node ${refSeq.length}, oxsio ${oxSeq.length}`);
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL ${e.stack || e}`);
  process.exit(1);
});
