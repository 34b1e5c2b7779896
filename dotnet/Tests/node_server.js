#!/usr/bin/env node
// The official socket.io server the C# client tests (dotnet/Tests) talk to.
// Usage: node node_server.js <port> [cert.pem key.pem]   (127.0.0.1; port 0 = any)
// Prints "listening <port>" once ready; https when a certificate is given.
"use strict";
const fs = require("fs");
const { Server } = require("socket.io");

const [portArg, cert, key] = process.argv.slice(2);
const httpServer = cert
  ? require("https").createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) })
  : require("http").createServer();
const io = new Server(httpServer, { pingInterval: 1000, pingTimeout: 1000 });

// Events named "buffered" received on any connection, in order (reconnection test).
const buffered = [];

io.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (auth.token === "bad") {
    const err = new Error("unauthorized");
    err.data = { reason: "bad token", code: 4001 };
    return next(err);
  }
  next();
});

io.on("connection", (socket) => {
  socket.emit("welcome", { sid: socket.id, auth: socket.handshake.auth || null });
  socket.on("echo", (...args) => socket.emit("echo", ...args));
  socket.on("echo-ack", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("ask-client", (data) => {
    socket.timeout(5000).emit("question", data, (err, ...answer) => {
      if (err) socket.emit("answer-error", String(err.message || err));
      else socket.emit("answer", ...answer);
    });
  });
  socket.on("nested", () => {
    socket.emit("nested", { list: [1, { bin: Buffer.from([1, 2, 3]) }], top: Buffer.from("xyz") }, "end");
  });
  socket.on("drop", () => socket.conn.close());
  socket.on("buffered", (n) => buffered.push(n));
  socket.on("count", (ack) => ack(buffered));
});

io.of("/admin").on("connection", (socket) => {
  socket.emit("welcome", { sid: socket.id, nsp: "/admin" });
  socket.on("echo", (...args) => socket.emit("echo", ...args));
});

httpServer.listen(Number(portArg || 0), "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});
const stop = () => { io.close(); httpServer.close(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
