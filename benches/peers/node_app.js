// The benchmark app on the official Node.js socket.io 4.x (from
// tests/interop/node_modules: run `bash tests/interop/setup.sh`).
// On connect join room "all"; "echo" -> emit back to the sender;
// "broadcast" -> emit to room "all", sender included.
// Prints "LISTENING <port>" once bound on 127.0.0.1.
// Usage: node node_app.js [--port N] [--ping-interval-ms N] [--ping-timeout-ms N]
// Cluster (the cluster scenarios): ADAPTER=redis|sharded|postgres|streams|streams-cluster
// and ADAPTER_URL (comma-separated node URLs for sharded and streams-cluster):
//   redis    @socket.io/redis-adapter createAdapter on node-redis
//   sharded  @socket.io/redis-adapter createShardedAdapter on a node-redis cluster
//   postgres @socket.io/postgres-adapter on a pg Pool
//   streams  @socket.io/redis-streams-adapter createAdapter on node-redis
//   streams-cluster  the same on a node-redis cluster, streamCount 3, useShardedPubSub
// Without ADAPTER the server is alone (in-memory adapter).
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
async function adapter(kind, url) {
  const need = (name) => require(path.join(modules, name));
  if (kind === 'postgres') {
    const pg = need('pg');
    const pool = new pg.Pool({ connectionString: url });
    pool.on('error', () => {});
    await pool.query(
      'CREATE TABLE IF NOT EXISTS socket_io_attachments (id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)');
    return need('@socket.io/postgres-adapter').createAdapter(pool);
  }
  const redis = need('redis');
  if (kind === 'streams-cluster') {
    const client = redis.createCluster({ rootNodes: url.split(',').map((u) => ({ url: u })) });
    client.on('error', () => {});
    await client.connect();
    return need('@socket.io/redis-streams-adapter').createAdapter(client, { streamCount: 3, useShardedPubSub: true });
  }
  if (kind === 'sharded') {
    const pub = redis.createCluster({ rootNodes: url.split(',').map((u) => ({ url: u })) });
    const sub = pub.duplicate();
    pub.on('error', () => {});
    sub.on('error', () => {});
    await Promise.all([pub.connect(), sub.connect()]);
    return need('@socket.io/redis-adapter').createShardedAdapter(pub, sub);
  }
  const pub = redis.createClient({ url });
  pub.on('error', () => {});
  if (kind === 'streams') {
    await pub.connect();
    return need('@socket.io/redis-streams-adapter').createAdapter(pub);
  }
  if (kind !== 'redis') throw new Error('unknown ADAPTER ' + kind);
  const sub = pub.duplicate();
  sub.on('error', () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  return need('@socket.io/redis-adapter').createAdapter(pub, sub);
}

async function main() {
  if (process.env.ADAPTER) opts.adapter = await adapter(process.env.ADAPTER, process.env.ADAPTER_URL || '');
  const httpServer = http.createServer();
  const io = new Server(httpServer, opts);
  serve(io, httpServer);
}

function serve(io, httpServer) {
  io.on('connection', (socket) => {
    socket.join('all');
    socket.on('echo', (...args) => socket.emit('echo', ...args));
    socket.on('broadcast', (...args) => io.to('all').emit('broadcast', ...args));
  });
  httpServer.listen(arg('--port', 0), '127.0.0.1', () => {
    console.log('LISTENING ' + httpServer.address().port);
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
process.on('SIGTERM', () => process.exit(0));
