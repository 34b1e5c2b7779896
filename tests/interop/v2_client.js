#!/usr/bin/env node
// The official socket.io-client 2.x (Engine.IO protocol 3) against a
// server with allowEIO3, driven by core/tests/eio3.rs. Prints one line per
// scenario ("ok <name>" or "FAIL <name>: <why>") and exits 0 when all
// passed.
// Usage: node v2_client.js <url> <polling|websocket|upgrade|refused>
"use strict";
const io = require("socket.io-client-v2");

const [url, mode] = process.argv.slice(2);
const transports = {
  polling: ["polling"],
  websocket: ["websocket"],
  upgrade: ["polling", "websocket"],
  refused: ["polling"],
}[mode];
const base = { transports, forceNew: true, reconnection: false, timeout: 5000 };
let failed = 0;

function step(name, fn, ms = 5000) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      failed++;
      console.log(`FAIL ${name}: timeout`);
      resolve();
    }, ms);
    fn(
      () => {
        clearTimeout(timer);
        console.log(`ok ${name}`);
        resolve();
      },
      (why) => {
        clearTimeout(timer);
        failed++;
        console.log(`FAIL ${name}: ${why}`);
        resolve();
      },
    );
  });
}

async function main() {
  if (mode === "refused") {
    await step("refused without allowEIO3", (ok, fail) => {
      const s = io(url, base);
      s.on("connect", () => fail("connected"));
      s.on("connect_error", () => ok());
    });
    return;
  }
  const s = io(url, base);
  await step("connect to / at once", (ok, fail) => {
    s.on("connect", () => (s.id === s.io.engine.id ? ok() : fail(`id ${s.id} vs ${s.io.engine.id}`)));
    s.on("connect_error", (e) => fail(`connect_error ${e}`));
  });
  await step("server id is the engine id", (ok, fail) => {
    s.emit("whoami", (id) => (id === s.io.engine.id ? ok() : fail(`server says ${id}`)));
  });
  await step("echo text and binary", (ok, fail) => {
    const buf = Buffer.from([1, 2, 3, 250]);
    s.once("echo", (t, b, nested) => {
      if (t !== "héllo €") return fail(`text ${t}`);
      if (!Buffer.isBuffer(b) || !b.equals(buf)) return fail(`buffer ${b}`);
      if (!nested || !Buffer.isBuffer(nested.b) || nested.b.length !== 2) return fail("nested");
      ok();
    });
    s.emit("echo", "héllo €", buf, { b: Buffer.from([9, 9]) });
  });
  await step("ack with binary", (ok, fail) => {
    s.emit("ack", 41, (n, b) => (n === 42 && Buffer.isBuffer(b) && b[0] === 42 ? ok() : fail(`${n} ${b}`)));
  });
  await step("server ack to the client", (ok, fail) => {
    s.once("ask", (q, cb) => cb(q * 2));
    s.emit("ask-me", 21, (answer) => (answer === 42 ? ok() : fail(`answer ${answer}`)));
  });
  await step("heartbeat keeps the session (client pings)", (ok, fail) => {
    let closed = false;
    const onDisconnect = (r) => {
      closed = true;
      fail(`disconnect ${r}`);
    };
    s.once("disconnect", onDisconnect);
    setTimeout(() => {
      s.off("disconnect", onDisconnect);
      if (!closed) s.emit("whoami", (id) => (id === s.io.engine.id ? ok() : fail("lost")));
    }, 1500);
  });
  if (mode === "upgrade") {
    await step("upgraded to websocket", (ok, fail) =>
      s.io.engine.transport.name === "websocket" ? ok() : fail(s.io.engine.transport.name),
    );
  }
  const chat = s.io.socket("/chat", { query: { token: "abc" } });
  await step("namespace with query as auth", (ok, fail) => {
    chat.once("welcome", (token) => (token === "abc" ? ok() : fail(`token ${token}`)));
    chat.on("error", (e) => fail(`error ${JSON.stringify(e)}`));
  });
  await step("namespace echo", (ok, fail) => {
    chat.emit("echo", "in chat", (back) => (back === "in chat" ? ok() : fail(back)));
  });
  await step("middleware refusal as a string", (ok, fail) => {
    const bad = s.io.socket("/guarded", { query: { token: "nope" } });
    bad.once("error", (e) => (e === "bad token" ? ok() : fail(JSON.stringify(e))));
  });
  await step("middleware refusal with data", (ok, fail) => {
    const data = s.io.socket("/data");
    data.once("error", (e) => (e && e.code === 7 ? ok() : fail(JSON.stringify(e))));
  });
  await step("server disconnects the socket", (ok, fail) => {
    s.once("disconnect", (r) => (r === "io server disconnect" ? ok() : fail(r)));
    s.emit("kick");
  });
  s.close();
}

main().then(() => process.exit(failed ? 1 : 0));
