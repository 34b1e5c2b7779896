// The demo chat page (demo/src/chat.html) in headless Chromium: two pages,
// each its own browser context, chat through the demo server with the
// official socket.io-client browser bundle, over WebSocket (after the
// upgrade from polling) and over long-polling only. Checks the DOM (messages,
// ack ticks, room notices, a pasted binary image), and saves a screenshot of
// both pages side by side.
//
// Run by tests/browser/run.sh (which installs what it needs). Env:
//   DEMO_BIN    the oxsio-demo binary (default target/debug/oxsio-demo)
//   CHROMIUM    the browser (default /usr/bin/chromium)
//   SCREENSHOT  where the screenshot goes (default target/chat-demo.png)
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const { chromium } = require("playwright-core");

const ROOT = path.resolve(__dirname, "..", "..");
const DEMO_BIN = process.env.DEMO_BIN || path.join(ROOT, "target", "debug", "oxsio-demo");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SCREENSHOT = path.resolve(ROOT, process.env.SCREENSHOT || "target/chat-demo.png");
const BUNDLE = path.join(__dirname, "node_modules", "socket.io-client", "dist", "socket.io.min.js");
const STEP_MS = 10000; // every wait on the page is bounded

let browser;
const servers = [];

/** Starts the demo server on a free port; resolves with its base URL once it takes clients. */
function startDemo(args) {
  const child = spawn(DEMO_BIN, args, {
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  servers.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("demo did not start:\n" + out)), 60000);
    child.stdout.on("data", (d) => {
      out += d;
      const url = /chat server on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (url && out.includes("ready for clients")) {
        clearTimeout(timer);
        resolve(url[1]);
      }
    });
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`demo exited (${code}):\n${out}`));
    });
  });
}

/** Stops a demo server by its PID (SIGINT: its Ctrl-C path), SIGKILL after 5 s. */
function stopDemo(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => process.kill(child.pid, "SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    process.kill(child.pid, "SIGINT");
  });
}

before(async () => {
  assert.ok(fs.existsSync(DEMO_BIN), `${DEMO_BIN} missing: cargo build -p oxsio-demo`);
  assert.ok(fs.existsSync(BUNDLE), `${BUNDLE} missing: npm ci in tests/browser`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Playwright gives every launch a fresh, empty --user-data-dir.
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
  if (browser) await browser.close();
  await Promise.all(servers.map(stopDemo));
});

/** Opens the chat page as `nick` in a browser context of its own. */
async function openChat(url, nick, transports) {
  const context = await browser.newContext({ viewport: { width: 560, height: 640 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const query = new URLSearchParams({ nick });
  if (transports) query.set("transports", transports);
  await page.goto(`${url}/?${query}`);
  // The server's answer to `nick` is shown in the status line.
  await page.waitForFunction(
    (n) => document.getElementById("status").textContent.startsWith(n + " · "),
    nick,
    { timeout: STEP_MS },
  );
  return { page, context, errors };
}

const transportOf = (page) => page.$eval("#status", (s) => s.dataset.transport);

async function say(page, text) {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

/** The tick of my own message `text` once acknowledged: {mark, others}. */
async function tickOf(page, text) {
  const tick = page.locator("li.msg.mine", { hasText: text }).locator(".tick:not(.pending)");
  await tick.waitFor({ timeout: STEP_MS });
  return { mark: await tick.textContent(), others: await tick.getAttribute("data-others") };
}

async function received(page, from, text) {
  await page
    .locator(`li.msg:not(.mine)[data-from="${from}"] .text`, { hasText: text })
    .waitFor({ timeout: STEP_MS });
}

async function noticed(page, text) {
  await page.locator("li.notice", { hasText: text }).waitFor({ timeout: STEP_MS });
}

async function joinRoom(page, room) {
  await page.fill("#room", room);
  await page.click("#room-form button");
  await page.waitForFunction(
    (r) => document.getElementById("room-title").textContent === "#" + r,
    room,
    { timeout: STEP_MS },
  );
}

/** Pastes a PNG drawn on a canvas (width × height) into the page, as a user's Ctrl-V would. */
async function pasteImage(page, width, height) {
  await page.evaluate(
    async ([w, h]) => {
      const canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      const g = canvas.getContext("2d");
      g.fillStyle = "#2f6fde";
      g.fillRect(0, 0, w, h);
      g.fillStyle = "#ffd23f";
      g.beginPath();
      g.arc(w / 2, h / 2, Math.min(w, h) / 3, 0, 2 * Math.PI);
      g.fill();
      const blob = await new Promise((r) => canvas.toBlob(r, "image/png"));
      const data = new DataTransfer();
      data.items.add(new File([blob], "pasted.png", { type: "image/png" }));
      document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true }));
    },
    [width, height],
  );
}

/** One full conversation between two pages; `transports` as in the page's query. */
async function conversation(url, transports, expected, screenshot) {
  const suffix = expected === "websocket" ? "" : "-" + expected;
  const ada = await openChat(url, "ada" + suffix, transports);
  const bob = await openChat(url, "bob" + suffix, transports);
  try {
    for (const p of [ada, bob]) {
      await p.page.waitForFunction(
        (t) => document.getElementById("status").dataset.transport === t,
        expected,
        { timeout: STEP_MS },
      );
    }
    const [a, b] = ["ada" + suffix, "bob" + suffix];

    // Both in the lobby: a message reaches the other page, the ack shows ✓✓.
    await say(ada.page, "hello bob, over " + expected);
    await received(bob.page, a, "hello bob, over " + expected);
    assert.deepEqual(await tickOf(ada.page, "hello bob, over " + expected), { mark: "✓✓", others: "1" });
    await say(bob.page, "hi ada!");
    await received(ada.page, b, "hi ada!");
    assert.deepEqual(await tickOf(bob.page, "hi ada!"), { mark: "✓✓", others: "1" });

    // Bob moves to #games: ada sees him leave, her next message reaches nobody (✓).
    await joinRoom(bob.page, "games");
    await noticed(ada.page, `${b} left #lobby`);
    await say(ada.page, "anyone here?");
    assert.deepEqual(await tickOf(ada.page, "anyone here?"), { mark: "✓", others: "0" });
    await bob.page.waitForTimeout(300);
    assert.equal(await bob.page.locator("li.msg", { hasText: "anyone here?" }).count(), 0);

    // Ada follows; bob sees her arrive; a pasted image travels as binary.
    await joinRoom(ada.page, "games");
    await noticed(bob.page, `${a} joined #games`);
    await say(ada.page, "found you");
    await received(bob.page, a, "found you");
    await pasteImage(ada.page, 96, 64);
    const img = bob.page.locator(`li.msg.image[data-from="${a}"] img`);
    await img.waitFor({ timeout: STEP_MS });
    await bob.page.waitForFunction(
      () => {
        const i = document.querySelector("li.msg.image img");
        return i && i.complete && i.naturalWidth > 0;
      },
      null,
      { timeout: STEP_MS },
    );
    const size = await img.evaluate((i) => [i.naturalWidth, i.naturalHeight]);
    assert.deepEqual(size, [96, 64]);
    const imageTick = ada.page.locator("li.msg.image.mine .tick:not(.pending)");
    await imageTick.waitFor({ timeout: STEP_MS });
    assert.equal(await imageTick.textContent(), "✓✓");
    await say(bob.page, "nice picture");
    await received(ada.page, b, "nice picture");

    // Still on the expected transport; no script errors on either page.
    assert.equal(await transportOf(ada.page), expected);
    assert.equal(await transportOf(bob.page), expected);
    assert.deepEqual([...ada.errors, ...bob.errors], []);

    if (screenshot) await sideBySide(ada.page, bob.page, screenshot);
  } finally {
    await ada.context.close();
    await bob.context.close();
  }
}

/** Screenshots both pages and puts them side by side in one PNG. */
async function sideBySide(left, right, file) {
  const shots = [await left.screenshot(), await right.screenshot()];
  const context = await browser.newContext({ viewport: { width: 1150, height: 660 } });
  const page = await context.newPage();
  const imgs = shots
    .map((s) => `<img src="data:image/png;base64,${s.toString("base64")}" width="560" height="640">`)
    .join("");
  await page.setContent(
    `<body style="margin:0;padding:10px;background:#c9ced6;display:flex;gap:10px">${imgs}</body>`,
  );
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file });
  await context.close();
  assert.ok(fs.statSync(file).size > 10000, "screenshot written");
}

test("two pages chat over WebSocket (upgraded from polling), with acks, rooms and a pasted image", async () => {
  const url = await startDemo(["--client-bundle", BUNDLE]);
  await conversation(url, null, "websocket", SCREENSHOT);
});

test("two pages chat over long-polling only (?transports=polling)", async () => {
  const url = await startDemo(["--client-bundle", BUNDLE]);
  await conversation(url, "polling", "polling", null);
});

test("the bundle is served like serveClient, and without it the page says where to get it", async () => {
  const withBundle = await startDemo(["--client-bundle", BUNDLE]);
  const res = await fetch(`${withBundle}/socket.io/socket.io.min.js`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), fs.readFileSync(BUNDLE, "utf8"));

  const bare = await startDemo([]);
  assert.equal((await fetch(`${bare}/socket.io/socket.io.min.js`)).status, 404);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(bare + "/");
  const help = page.locator("#help");
  await help.waitFor({ state: "visible", timeout: STEP_MS });
  assert.match(await help.textContent(), /--client-bundle .*socket\.io-client\/dist\/socket\.io\.min\.js/);
  assert.match(await help.textContent(), /npm install socket\.io-client/);
  assert.equal(await page.locator("#status").textContent(), "no client bundle");
  await context.close();
});

// Never hang: the whole file has a hard deadline.
setTimeout(() => {
  console.error("browser tests: global timeout");
  for (const s of servers) if (s.exitCode === null) process.kill(s.pid, "SIGKILL");
  process.exit(1);
}, 180000).unref();
