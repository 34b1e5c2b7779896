// The real Socket.IO Admin UI (the built UI shipped in the npm package
// @socket.io/admin-ui, ui/dist) against an oxsio server, in headless
// Chromium: the UI is served from a static server of its own (another
// origin), logs in to `oxsio serve --admin-ui /admin` with a bcrypt-hashed
// password, and must show the server's sockets and rooms (checked in the
// DOM); a wrong password shows the refusal; the UI's disconnect button
// disconnects a socket. Saves a screenshot of the sockets page.
//
// Run by tests/browser/run.sh (which installs what it needs). Env:
//   OXSIO_BIN   the oxsio binary (default target/debug/oxsio)
//   CHROMIUM    the browser (default /usr/bin/chromium)
//   ADMIN_SCREENSHOT  where the screenshot goes (default target/admin-ui.png;
//               docs/admin-ui.png is the README's)
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");
const { chromium } = require("playwright-core");
const { io } = require("socket.io-client");

const ROOT = path.resolve(__dirname, "..", "..");
const OXSIO_BIN = process.env.OXSIO_BIN || path.join(ROOT, "target", "debug", "oxsio");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SCREENSHOT = path.resolve(ROOT, process.env.ADMIN_SCREENSHOT || "target/admin-ui.png");
// Installed with the interop peers (tests/interop/package.json, npm ci).
const PEERS = path.join(ROOT, "tests", "interop", "node_modules");
const UI_DIST = path.join(PEERS, "@socket.io", "admin-ui", "ui", "dist");
const STEP_MS = 30000; // every wait on the page is bounded (generous for a loaded machine)
const USER = "admin";
const PASSWORD = "correct horse battery staple";

let browser;
let server; // the oxsio process
let oxsioUrl;
let staticServer;
let uiUrl;
const clients = [];

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".map": "application/json",
};

/** Serves ui/dist on 127.0.0.1, port 0. */
function serveUi() {
  const root = fs.realpathSync(UI_DIST);
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const rel = url.pathname === "/" ? "index.html" : decodeURIComponent(url.pathname.slice(1));
    const file = path.resolve(root, rel);
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] || "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => srv.listen(0, "127.0.0.1", () => resolve(srv)));
}

/** Starts `oxsio serve` with the admin UI; resolves with its URL once it listens. */
function startOxsio(args) {
  const child = spawn(OXSIO_BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("oxsio serve did not start:\n" + out)), 60000);
    const onData = (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`oxsio serve exited (${code}):\n${out}`));
    });
  });
}

/** Stops the server by its PID (SIGINT: its Ctrl-C path), SIGKILL after 5 s. */
function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => process.kill(child.pid, "SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    process.kill(child.pid, "SIGINT");
  });
}

/** An app client of `oxsio serve` (it joins room `all` and `auth.room`). */
function appClient(room) {
  const s = io(oxsioUrl, { forceNew: true, reconnection: false, auth: { room } });
  clients.push(s);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("app client did not connect")), STEP_MS);
    s.once("connect", () => {
      clearTimeout(t);
      resolve(s);
    });
  });
}

before(async () => {
  assert.ok(fs.existsSync(OXSIO_BIN), `${OXSIO_BIN} missing: cargo build -p oxsio-cli`);
  assert.ok(fs.existsSync(path.join(UI_DIST, "index.html")), `${UI_DIST} missing: bash tests/interop/setup.sh`);
  const bcrypt = require(path.join(PEERS, "bcryptjs"));
  staticServer = await serveUi();
  uiUrl = `http://127.0.0.1:${staticServer.address().port}`;
  const started = await startOxsio([
    "serve",
    "--port", "0",
    // The UI's page is another origin, and its client sends credentials.
    "--cors", uiUrl,
    "--cors-credentials",
    "--admin-ui", "/admin",
    "--admin-user", USER,
    "--admin-password-hash", bcrypt.hashSync(PASSWORD, 10),
    "--admin-server-id", "oxsio-browser-test",
  ]);
  server = started.child;
  oxsioUrl = started.url;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    timeout: 60000,
  });
});

after(async () => {
  for (const c of clients) c.disconnect();
  if (browser) await browser.close();
  await stop(server);
  if (staticServer) staticServer.close();
});

/** Opens the UI and submits the login form. */
async function login(password) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(uiUrl + "/");
  const form = page.locator("form").filter({ has: page.locator('input[type="password"]') });
  await form.waitFor({ timeout: STEP_MS });
  await page.getByLabel("Server URL").fill(oxsioUrl);
  await page.getByLabel("Username").fill(USER);
  await page.getByLabel("Password").fill(password);
  await form.locator('button[type="submit"]').click();
  return { context, page, errors };
}

/** The text of the page's main area. */
const mainText = (page) => page.locator("main").innerText();

async function waitForText(page, texts, what) {
  await page.waitForFunction(
    (ts) => {
      const t = document.querySelector("main")?.innerText || "";
      return ts.every((x) => t.includes(x));
    },
    texts,
    { timeout: STEP_MS },
  ).catch(async (e) => {
    throw new Error(`${what}: ${e.message}\npage: ${(await mainText(page)).slice(0, 2000)}`);
  });
}

test("the admin UI logs in to oxsio and shows its sockets, rooms and server", async () => {
  const blue1 = await appClient("blue");
  const red = await appClient("red");
  const blue2 = await appClient("blue");
  const { context, page, errors } = await login(PASSWORD);
  try {
    // The login dialog goes away once connected.
    await page.locator('input[type="password"]').waitFor({ state: "hidden", timeout: STEP_MS });

    await page.evaluate(() => (location.hash = "#/sockets/"));
    await waitForText(page, [blue1.id, red.id, blue2.id], "sockets page");
    // Each row shows the socket's transport (the clients upgraded).
    const rows = page.locator("main tbody tr", { hasText: blue1.id });
    assert.equal(await rows.count(), 1);

    await page.evaluate(() => (location.hash = "#/rooms/"));
    await waitForText(page, ["blue", "red", "all"], "rooms page");
    // Rows: name, type, number of sockets, actions.
    const rooms = await page.$$eval("main tbody tr", (trs) =>
      trs.map((tr) => [...tr.cells].map((c) => c.innerText.trim())),
    );
    const row = (name) => rooms.find((cells) => cells[0] === name) || [];
    assert.ok(row("blue").includes("2"), `two sockets in blue: ${JSON.stringify(rooms)}`);
    assert.ok(row("red").includes("1"), `one socket in red: ${JSON.stringify(rooms)}`);
    assert.ok(row("all").includes("3"), `three sockets in all: ${JSON.stringify(rooms)}`);

    await page.evaluate(() => (location.hash = "#/servers/"));
    await waitForText(page, ["oxsio-browser-test"], "servers page");

    // The sockets page, for the README.
    await page.evaluate(() => (location.hash = "#/sockets/"));
    await waitForText(page, [blue1.id, red.id, blue2.id], "sockets page again");
    // Let the page transition end (only the picture depends on it).
    await page.waitForTimeout(1000);
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    console.log(`screenshot: ${SCREENSHOT}`);

    // A command from the UI: the disconnect button of the red socket.
    const gone = new Promise((resolve) => red.once("disconnect", resolve));
    const redRow = page.locator("main tbody tr", { hasText: red.id });
    await redRow.locator("button").last().click();
    const reason = await Promise.race([
      gone,
      new Promise((_, reject) => setTimeout(() => reject(new Error("red not disconnected")), STEP_MS)),
    ]);
    assert.equal(reason, "io server disconnect");
    await page.waitForFunction(
      (id) => !(document.querySelector("main")?.innerText || "").includes(id),
      red.id,
      { timeout: STEP_MS },
    );
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("a wrong password is refused in the UI and the server keeps serving", async () => {
  const { context, page } = await login("not the password");
  try {
    await page
      .locator("form", { hasText: /invalid credentials/i })
      .waitFor({ timeout: STEP_MS });
    const still = await appClient("green");
    assert.ok(still.connected);
  } finally {
    await context.close();
  }
});
