// The benchmark app on the official Node.js socket.io 4.x (from
// tests/interop/node_modules: run `bash tests/interop/setup.sh`).
// On connect join room "all"; "echo" -> emit back to the sender;
// "broadcast" -> emit to room "all", sender included.
// Prints "LISTENING <port>" once bound on 127.0.0.1.
// Usage: node node_app.js [--port N] [--ping-interval-ms N] [--ping-timeout-ms N]
'use strict';
const path = require('path');
const http = require('http');
const modules = process.env.OXSIO_NODE_MODULES ||
  path.join(__dirname, '..', '..', 'tests', 'interop', 'node_modules');
const { Server } = require(path.join(modules, 'socket.io'));

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const opts = {};
if (arg('--ping-interval-ms')) opts.pingInterval = arg('--ping-interval-ms');
if (arg('--ping-timeout-ms')) opts.pingTimeout = arg('--ping-timeout-ms');
const httpServer = http.createServer();
const io = new Server(httpServer, opts);
io.on('connection', (socket) => {
  socket.join('all');
  socket.on('echo', (...args) => socket.emit('echo', ...args));
  socket.on('broadcast', (...args) => io.to('all').emit('broadcast', ...args));
});
httpServer.listen(arg('--port', 0), '127.0.0.1', () => {
  console.log('LISTENING ' + httpServer.address().port);
});
process.on('SIGTERM', () => process.exit(0));
