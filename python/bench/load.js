// Echo load: C official socket.io-client sockets (websocket), each keeping W
// messages in flight; counts echoes received during D seconds after a warm-up.
// Usage: NODE_PATH=tests/interop/node_modules node load.js URL C W D
"use strict";
const { io } = require("socket.io-client");
const [url, C, W, D] = [process.argv[2], +process.argv[3], +process.argv[4], +process.argv[5]];
const payload = { text: "hello", n: 42, list: [1, 2, 3] };
let counting = false, count = 0, connected = 0;
setTimeout(() => { console.log("FAIL timeout"); process.exit(1); }, (D + 30) * 1000).unref();
for (let i = 0; i < C; i++) {
  const s = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  s.on("echo", () => { if (counting) count++; s.emit("echo", payload); });
  s.on("connect", () => {
    for (let k = 0; k < W; k++) s.emit("echo", payload);
    if (++connected === C) start();
  });
  s.on("connect_error", (e) => { console.log("FAIL connect_error", e.message); process.exit(1); });
}
function start() {
  setTimeout(() => {               // 1 s warm-up
    counting = true;
    const t0 = process.hrtime.bigint();
    setTimeout(() => {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      console.log(JSON.stringify({ msgs_per_sec: Math.round(count / secs), count, secs }));
      process.exit(0);
    }, D * 1000);
  }, 1000);
}
