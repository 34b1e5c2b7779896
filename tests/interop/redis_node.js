#!/usr/bin/env node
// A Node.js socket.io node on Redis with @socket.io/redis-adapter, for the
// oxsio <-> Node cluster tests (core/tests/redis.rs, redis_sharded.rs).
//
// Usage: node redis_node.js <redis-port> [http-port]   (prints "listening <port>")
// Adapter: classic `createAdapter` on one Redis by default; with
// ADAPTER=sharded, `createShardedAdapter` on the Redis Cluster whose nodes
// listen on REDIS_CLUSTER="p1,p2,p3" (loopback), subscription mode
// SUBSCRIPTION_MODE (static | dynamic | dynamic-private, default dynamic)
// and CHANNEL_PREFIX (default socket.io);
// with ADAPTER=postgres, @socket.io/postgres-adapter on the PostgreSQL at
// PG_URL (the attachments table is created if missing; no Redis is used);
// with ADAPTER=streams, @socket.io/redis-streams-adapter on the Redis, with
// connectionStateRecovery on (maxDisconnectionDuration MAX_DISCONNECTION_MS,
// default 120000), STREAM_NAME / STREAM_COUNT / MAX_LEN when set; on the
// Redis Cluster REDIS_CLUSTER when set, with useShardedPubSub when
// USE_SHARDED_PUBSUB=1.
//
// App on "/": a client's auth {name, rooms:[..]} names it and joins rooms;
// every event a client receives is also reported back by the client itself.
// "/control" lets the test drive cluster operations from this node:
//   emit("op", {kind, ...}, ack) runs the operation and acks its result.
// Server-side events: "peer-ping" (...args, ack?) → ack({node: "node", args}).
// With ADMIN_SERVER_ID set, the node is instrumented for the Socket.IO Admin
// UI (@socket.io/admin-ui, no auth, development mode) with that server id
// (core/tests/admin_cluster.rs).
"use strict";

const http = require("http");
const { Server } = require("socket.io");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const { createClient, createCluster } = require("redis");

const redisPort = Number(process.argv[2]);
const port = Number(process.argv[3] || 0);

async function main() {
  if (process.env.ADAPTER === "postgres") {
    const pg = require("pg");
    const { createAdapter: createPgAdapter } = require("@socket.io/postgres-adapter");
    const pool = new pg.Pool({ connectionString: process.env.PG_URL });
    pool.on("error", () => {});
    await pool.query(
      "CREATE TABLE IF NOT EXISTS socket_io_attachments (id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)",
    );
    return serve(createPgAdapter(pool));
  }
  if (process.env.ADAPTER === "streams") {
    const { createAdapter: createStreamsAdapter } = require("@socket.io/redis-streams-adapter");
    const client = process.env.REDIS_CLUSTER
      ? createCluster({
          rootNodes: process.env.REDIS_CLUSTER.split(",").map((p) => ({ url: `redis://127.0.0.1:${p}` })),
        })
      : createClient({ url: `redis://127.0.0.1:${redisPort}` });
    client.on("error", () => {});
    await client.connect();
    const opts = {};
    if (process.env.USE_SHARDED_PUBSUB === "1") opts.useShardedPubSub = true;
    if (process.env.STREAM_NAME) opts.streamName = process.env.STREAM_NAME;
    if (process.env.STREAM_COUNT) opts.streamCount = Number(process.env.STREAM_COUNT);
    if (process.env.MAX_LEN) opts.maxLen = Number(process.env.MAX_LEN);
    return serve(createStreamsAdapter(client, opts), {
      connectionStateRecovery: {
        maxDisconnectionDuration: Number(process.env.MAX_DISCONNECTION_MS || 120000),
        skipMiddlewares: true,
      },
    });
  }
  const sharded = process.env.ADAPTER === "sharded";
  const pub = sharded
    ? createCluster({
        rootNodes: process.env.REDIS_CLUSTER.split(",").map((p) => ({ url: `redis://127.0.0.1:${p}` })),
      })
    : createClient({ url: `redis://127.0.0.1:${redisPort}` });
  const sub = pub.duplicate();
  pub.on("error", () => {});
  sub.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const adapter = sharded
    ? createShardedAdapter(pub, sub, {
        subscriptionMode: process.env.SUBSCRIPTION_MODE || "dynamic",
        channelPrefix: process.env.CHANNEL_PREFIX || "socket.io",
      })
    : createAdapter(pub, sub, { requestsTimeout: 2000 });
  return serve(adapter);
}

function serve(adapter, extra = {}) {
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter, ...extra });

  const app = (socket) => {
    const auth = socket.handshake.auth || {};
    socket.data.name = auth.name;
    socket.data.node = "node";
    for (const r of auth.rooms || []) socket.join(r);
    socket.emit("ready", socket.id, socket.recovered);
  };
  io.on("connection", app);
  io.of("/news").on("connection", app);
  // A server-side "relay" event is shown to this node's clients.
  io.on("relay", (...args) => io.local.emit("relayed", ...args));
  io.on("peer-ping", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack({ node: "node", args });
  });

  if (process.env.ADMIN_SERVER_ID) {
    const { instrument } = require("@socket.io/admin-ui");
    instrument(io, { auth: false, mode: "development", serverId: process.env.ADMIN_SERVER_ID });
  }

  io.of("/control").on("connection", (ctl) => {
    ctl.on("op", async (op, ack) => {
      try {
        const sel = (op.rooms && op.rooms.length ? io.to(op.rooms) : io.of("/"));
        const target = op.except ? sel.except(op.except) : sel;
        switch (op.kind) {
          case "emit":
            target.emit(op.event, ...(op.args || []).map(revive));
            return ack({ ok: true });
          case "burst":
            // op.count broadcasts of (event, i) in a row (the cluster bench).
            for (let i = 0; i < op.count; i++) target.emit(op.event, i);
            return ack({ ok: true });
          case "emit-with-ack": {
            const responses = await target.timeout(op.timeout || 2000).emitWithAck(op.event, ...(op.args || []));
            return ack({ ok: true, responses });
          }
          case "fetch": {
            const sockets = await target.fetchSockets();
            return ack({ ok: true, sockets: sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], auth: s.handshake.auth, data: s.data, time: s.handshake.time })) });
          }
          case "join":
            target.socketsJoin(op.room);
            return ack({ ok: true });
          case "leave":
            target.socketsLeave(op.room);
            return ack({ ok: true });
          case "disconnect":
            target.disconnectSockets(!!op.close);
            return ack({ ok: true });
          case "sse":
            io.serverSideEmit(op.event, ...(op.args || []));
            return ack({ ok: true });
          case "sse-ack": {
            const responses = await io.serverSideEmitWithAck(op.event, ...(op.args || []));
            return ack({ ok: true, responses });
          }
          case "count":
            return ack({ ok: true, count: await io.of("/").adapter.serverCount() });
          case "rooms":
            return ack({ ok: true, rooms: [...(await io.of("/").adapter.allRooms())] });
          default:
            return ack({ ok: false, error: "unknown op" });
        }
      } catch (e) {
        ack({ ok: false, error: String(e && e.message ? e.message : e) });
      }
    });
  });

  httpServer.listen(port, "127.0.0.1", () => console.log(`listening ${httpServer.address().port}`));
}

// {"$bin": "hex"} in test-provided args becomes a Buffer.
function revive(v) {
  if (v && typeof v === "object" && !Array.isArray(v)) {
    if (typeof v.$bin === "string") return Buffer.from(v.$bin, "hex");
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = revive(x);
    return o;
  }
  if (Array.isArray(v)) return v.map(revive);
  return v;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
