#!/usr/bin/env node
// Reference implementation of the interop test app (APP.md) on the official
// Node.js `socket.io` server. It exists to prove that client_scenarios.js and
// python_client.py are correct: every scenario must pass against this server,
// so a failure against oxsio points at oxsio.
//
// Usage: node reference_server.js <port>      (binds 127.0.0.1 only; port 0 = any)
// Prints "listening <port>" on stdout once ready. Set REF_DEBUG=1 to log
// server-side disconnect reasons on stderr; PARSER=msgpack serves with
// socket.io-msgpack-parser.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 0);
const debug = !!process.env.REF_DEBUG;

const httpServer = http.createServer();
const io = new Server(httpServer, {
  path: "/socket.io/",
  maxHttpBufferSize: 100000,
  pingInterval: 300,
  pingTimeout: 200,
  ...(process.env.PARSER === "msgpack" ? { parser: require("socket.io-msgpack-parser") } : {}),
  // Default CORS / upgrade settings; no connection state recovery.
});

// ---------------------------------------------------------------- namespace /
io.use((socket, next) => {
  const auth = socket.handshake.auth;
  if (auth && auth.token === "bad") {
    const err = new Error("unauthorized");
    err.data = { reason: "bad token" };
    return next(err);
  }
  next();
});

io.on("connection", (socket) => {
  const auth = socket.handshake.auth;
  socket.join("all");
  if (auth && typeof auth.room === "string") socket.join(auth.room);
  socket.emit("welcome", { sid: socket.id, auth: auth === undefined ? null : auth });

  socket.on("echo", (...args) => socket.emit("echo", ...args));

  socket.on("echo-ack", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });

  socket.on("ask-client", (data) => {
    socket.timeout(5000).emit("question", data, (err, ...answer) => {
      if (err) socket.emit("answer-error", String(err && err.message ? err.message : err));
      else socket.emit("answer", ...answer);
    });
  });

  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack("joined", room);
  });

  socket.on("leave", (room, ack) => {
    socket.leave(room);
    if (typeof ack === "function") ack("left", room);
  });

  socket.on("to-room", (room, event, data) => {
    io.to(room).emit(event, data);
  });

  socket.on("to-room-except", (room, exceptRoom, event, data) => {
    io.to(room).except(exceptRoom).emit(event, data);
  });

  socket.on("broadcast", (event, data) => {
    socket.broadcast.emit(event, data);
  });

  socket.on("disconnect-me", () => socket.disconnect());

  socket.on("observe", (ack) => {
    socket.join("observers");
    if (typeof ack === "function") ack();
  });

  socket.on("size", (data, ack) => {
    let n;
    if (typeof data === "string") n = Buffer.byteLength(data, "utf8");
    else if (Buffer.isBuffer(data)) n = data.length;
    else if (data instanceof ArrayBuffer) n = data.byteLength;
    else if (ArrayBuffer.isView(data)) n = data.byteLength;
    else n = -1;
    if (typeof ack === "function") ack(n);
  });

  socket.on("disconnect", (reason) => {
    if (debug) console.error(`[ref] / disconnect sid=${socket.id} reason=${reason}`);
    io.to("observers").emit("peer-disconnect", { sid: socket.id, reason });
  });
});

// ----------------------------------------------------------- namespace /admin
const admin = io.of("/admin");
admin.on("connection", (socket) => {
  socket.join("admins");
  socket.emit("welcome", { sid: socket.id, nsp: "/admin" });
  socket.on("echo", (...args) => socket.emit("echo", ...args));
  if (debug) socket.on("disconnect", (r) => console.error(`[ref] /admin disconnect sid=${socket.id} reason=${r}`));
});

if (debug) {
  io.engine.on("connection", (conn) => {
    conn.on("close", (reason, desc) =>
      console.error(`[ref] engine close sid=${conn.id} transport=${conn.transport && conn.transport.name} reason=${reason}` +
        (desc ? ` desc=${desc.message || desc.description || JSON.stringify(desc)}` : "")));
  });
  io.engine.on("connection_error", (err) =>
    console.error(`[ref] engine connection_error code=${err.code} message=${err.message}`));
}

// Unknown namespaces (e.g. /nope) are refused by socket.io itself with
// connect_error "Invalid namespace".

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});

function shutdown() {
  io.close();
  httpServer.close();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
