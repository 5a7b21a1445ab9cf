// Browser tests of `sockeye serve`: Debian's Chromium driven by playwright-core.
//
//   node run.mjs SCENARIO --url http://127.0.0.1:PORT [--transports auto|websocket|polling]
//                [--file PATH] [--interrupt] [--artifacts DIR]
//
// Scenarios: bundle, seed, chat, upload, binary, own-app. Each prints `RESULT <json>` on success and exits
// 0; on failure it prints the reason (and the pages' console) and exits 1. The Rust test
// crates/cli/tests/browser.rs starts the server and runs these.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const LAUNCH = {
  executablePath: CHROMIUM,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
  ],
};

function parseArgs(argv) {
  const args = { scenario: argv[0], transports: "auto", artifacts: null, file: null, interrupt: false };
  for (let i = 1; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--interrupt") args.interrupt = true;
    else if (flag.startsWith("--")) args[flag.slice(2)] = argv[++i];
  }
  if (!args.scenario || !args.url) {
    console.error("usage: node run.mjs SCENARIO --url URL [--transports auto|websocket|polling] [--file PATH] [--interrupt] [--artifacts DIR]");
    process.exit(2);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const base = args.url.replace(/\/$/, "");
const query = args.transports === "auto" ? "" : "?transports=" + args.transports;
const consoleLines = [];
const pageErrors = [];

function step(text) {
  console.log("- " + text);
}

async function screenshot(page, name) {
  if (!args.artifacts) return;
  fs.mkdirSync(args.artifacts, { recursive: true });
  const file = path.join(args.artifacts, `${args.scenario}-${args.transports}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  step("screenshot " + file);
}

async function open(context, pagePath, name) {
  const page = await context.newPage();
  page.on("console", (msg) => consoleLines.push(`[${name}] ${msg.type()}: ${msg.text()}`));
  page.on("pageerror", (err) => pageErrors.push(`[${name}] ${err.message}`));
  await page.goto(base + pagePath + query);
  return page;
}

/** Waits for the page's transport indicator to show the expected transport. */
async function checkTransport(page, name) {
  const expected = {
    websocket: { current: "websocket", upgraded: false, first: "open: websocket" },
    polling: { current: "polling", upgraded: false, first: "open: polling" },
    auto: { current: "websocket", upgraded: true, first: "open: polling" },
  }[args.transports];
  await page.waitForFunction(
    ({ current, upgraded }) => {
      const t = window.sockeyeTransport;
      return t && t.state === "connected" && t.current === current && t.upgraded === upgraded;
    },
    expected,
    { timeout: 15000 },
  );
  if (args.transports === "polling") {
    // Polling only: still polling a while later, never upgraded.
    await page.waitForTimeout(800);
  }
  const t = await page.evaluate(() => window.sockeyeTransport);
  assert.equal(t.current, expected.current, `${name}: transport`);
  assert.equal(t.upgraded, expected.upgraded, `${name}: upgraded`);
  assert.equal(t.history[0], expected.first, `${name}: first transport`);
  const box = page.locator("#transport");
  assert.equal(await box.getAttribute("data-transport"), expected.current, `${name}: indicator`);
  const text = await box.innerText();
  assert.ok(text.includes(expected.upgraded ? "polling → websocket" : expected.current), `${name}: indicator text ${text}`);
  return t;
}

// ---------------------------------------------------------------------------------------------

async function bundle(browser) {
  const files = ["socket.io.js", "socket.io.min.js", "socket.io.esm.min.js", "socket.io.msgpack.min.js"];
  const checked = [];
  for (const file of files.flatMap((f) => [f, f + ".map"])) {
    const url = base + "/socket.io/" + file;
    const res = await fetch(url);
    assert.equal(res.status, 200, url);
    const body = await res.arrayBuffer();
    assert.ok(body.byteLength > 1000, `${file} is ${body.byteLength} bytes`);
    const type = file.endsWith(".map") ? "application/json; charset=utf-8" : "application/javascript; charset=utf-8";
    assert.equal(res.headers.get("content-type"), type, file);
    assert.equal(res.headers.get("cache-control"), "public, max-age=0", file);
    const etag = res.headers.get("etag");
    assert.match(etag, /^"4\.\d+\.\d+"$/, file);
    const again = await fetch(url, { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304, file + " with If-None-Match");
    const weak = await fetch(url, { headers: { "if-none-match": "W/" + etag } });
    assert.equal(weak.status, 304, file + " with a weak If-None-Match");
    const other = await fetch(url, { headers: { "if-none-match": '"0.0.0"' } });
    assert.equal(other.status, 200, file + " with another ETag");
    checked.push({ file, bytes: body.byteLength, etag });
  }
  step("the eight bundle files (the msgpack build too, as Node serves it) answer 200 with ETag and Cache-Control, and 304 when unchanged");

  // The pages load, and the index links to every demo.
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const index = await open(context, "/", "index");
  for (const href of ["/seed.html", "/chat.html", "/upload.html", "/binary.html"]) {
    assert.equal(await index.locator(`main h2 a[href="${href}"]`).count(), 1, "index links " + href);
  }
  await index.waitForFunction(() => document.querySelector("#stats dd") && document.querySelector("#stats").textContent.includes("namespace"));
  assert.equal(await index.locator(".banner").count(), 0, "no missing-client banner");
  await screenshot(index, "index");
  // The ESM build imports as a module in the page.
  const esm = await index.evaluate(async () => {
    const mod = await import("/socket.io/socket.io.esm.min.js");
    return typeof mod.io === "function" && typeof mod.Manager === "function";
  });
  assert.ok(esm, "socket.io.esm.min.js exports io");
  await context.close();
  return { files: checked };
}

// ---------------------------------------------------------------------------------------------

async function seed(browser) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const names = ["A", "B", "C"];
  const pages = {};
  for (const name of names) pages[name] = await open(context, "/seed.html", name);
  const ids = {};
  const transports = {};
  for (const name of names) {
    const page = pages[name];
    await page.waitForFunction(() => window.seed && window.seed.id && window.seed.motd, null, { timeout: 15000 });
    const state = await page.evaluate(() => window.seed);
    assert.equal(state.motd, "Welcome to my server!", `${name}: motd`);
    assert.equal(await page.locator("#motd").innerText(), state.motd, `${name}: motd shown`);
    ids[name] = state.id;
    transports[name] = (await checkTransport(page, name)).history;
  }
  step(`three pages connected (${Object.values(ids).join(", ")}), each shows the motd, transport ${args.transports}`);

  // message and important_message.
  const { A, B, C } = pages;
  const text = "hello from A over " + args.transports;
  await A.fill("#message-text", text);
  await A.click("#send-message");
  await A.click("#send-important");
  await A.waitForFunction(() => window.seed.acks.length === 1, null, { timeout: 10000 });
  assert.equal(await A.locator("#ack").innerText(), "Roger that");
  const stats = await (await fetch(base + "/stats.json")).json();
  const got = stats.seed_messages.filter((m) => m.from === ids.A);
  assert.deepEqual(got.map((m) => [m.event, m.data]), [["message", text], ["important_message", text]], "the server got both messages");
  step('A sent message and important_message; the server logged both; the ack "Roger that" is shown');

  // exampleRoom: A and B join, A talks, C is not in it.
  for (const page of [A, B]) {
    await page.click("#join-room");
  }
  await A.waitForFunction(() => document.querySelector("#log").textContent.includes("joined exampleRoom"));
  await B.waitForFunction(() => document.querySelector("#log").textContent.includes("joined exampleRoom"));
  await A.fill("#room-text", "room talk");
  await A.click("#send-room");
  await B.waitForFunction(() => window.seed.roomMessages.includes("room talk"));
  await A.waitForFunction(() => window.seed.roomMessages.includes("room talk"));
  await A.click("#list-rooms");
  await A.waitForFunction(() => window.seed.rooms !== null);
  assert.deepEqual(await A.evaluate(() => window.seed.rooms), { exampleRoom: 2 });
  assert.ok(!(await C.evaluate(() => window.seed.roomMessages.includes("room talk"))), "C is not in exampleRoom");
  step("exampleRoom: A and B got the room message, C did not; list_rooms says 2 members");

  for (const name of names) await screenshot(pages[name], name);

  // C leaves: A and B are told, with C's id.
  await C.close();
  for (const [name, page] of [["A", A], ["B", B]]) {
    await page.waitForFunction((id) => window.seed.disconnected.some((d) => d.clientID === id), ids.C, { timeout: 15000 });
    const notices = await page.evaluate(() => window.seed.disconnected);
    assert.equal(notices.length, 1, `${name}: one client_disconnected`);
    assert.equal(notices[0].clientID, ids.C, `${name}: the id of C`);
    assert.equal(notices[0].message, `User: ${ids.C}, disconnected.`);
    assert.equal(await page.locator(`li.disconnected[data-client-id="${ids.C}"]`).count(), 1, `${name}: shown`);
  }
  step("C closed: A and B got client_disconnected with C's id, and show it");
  await screenshot(A, "A-after-C-left");

  // B leaves: A is told.
  await B.close();
  await A.waitForFunction((id) => window.seed.disconnected.some((d) => d.clientID === id), ids.B, { timeout: 15000 });
  assert.deepEqual((await A.evaluate(() => window.seed.disconnected)).map((d) => d.clientID), [ids.C, ids.B]);
  step("B closed: A got client_disconnected with B's id");
  await context.close();
  return { ids, transports };
}

// ---------------------------------------------------------------------------------------------

async function chat(browser) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const people = ["alice", "bob", "carol"];
  const pages = {};
  for (const nick of people) {
    const page = await open(context, "/chat.html", nick);
    await page.waitForFunction(() => window.chat && window.chat.me, null, { timeout: 15000 });
    await checkTransport(page, nick);
    await page.fill("#nick", nick);
    await page.click("#set-nick");
    await page.waitForFunction((n) => window.chat.me.nick === n, nick);
    pages[nick] = page;
  }
  const { alice, bob, carol } = pages;
  const joinRoom = async (page, room) => {
    await page.fill("#room-name", room);
    await page.click("#join");
    await page.waitForFunction((r) => window.chat.joined.includes(r), room);
  };
  await joinRoom(alice, "rust");
  await joinRoom(bob, "rust");
  await joinRoom(carol, "go");

  // The room list is pushed to everyone, with counts and nicknames.
  const roomsAre = async (page, expected) => {
    await page.waitForFunction(
      (want) => JSON.stringify(window.chat.rooms.map((r) => [r.name, r.members, r.nicks])) === JSON.stringify(want),
      expected,
      { timeout: 10000 },
    );
  };
  for (const nick of people) {
    await roomsAre(pages[nick], [["go", 1, ["carol"]], ["rust", 2, ["alice", "bob"]]]);
  }
  assert.equal(await alice.locator('#rooms li[data-room="rust"] .pill').innerText(), "2 members");
  step("alice and bob joined rust, carol joined go; every page lists go (1) and rust (2)");

  // Typing: bob sees alice typing in rust; carol does not.
  await alice.selectOption("#target", "rust");
  await alice.type("#text", "hello rust", { delay: 20 });
  await bob.waitForFunction(() => document.querySelector("#typing").textContent.includes("alice"));
  step("bob sees “alice is typing…”");
  await screenshot(bob, "bob-sees-typing");

  // A message to rust: bob receives it, carol does not, alice is not sent her own; two ticks.
  await alice.click("#send");
  await bob.waitForFunction(() => window.chat.received.some((m) => m.text === "hello rust"));
  const toBob = (await bob.evaluate(() => window.chat.received)).find((m) => m.text === "hello rust");
  assert.equal(toBob.room, "rust");
  assert.equal(toBob.from, "alice");
  await alice.waitForFunction(() => Object.values(window.chat.sent).some((s) => s.text === "hello rust" && s.acked && s.delivered === 1 && s.of === 1));
  const ticks = await alice.locator("li.mine .ticks").last().innerText();
  assert.equal(ticks, "✓✓ 1/1");
  await bob.waitForFunction(() => document.querySelector("#typing").textContent === "");
  step("alice → rust: bob got it, alice shows ✓✓ 1/1, bob's typing indicator cleared");

  // A broadcast from carol: everyone else gets it.
  await carol.check("#everyone");
  await carol.fill("#text", "hi all");
  await carol.click("#send");
  for (const page of [alice, bob]) {
    await page.waitForFunction(() => window.chat.received.some((m) => m.text === "hi all" && m.room === null && m.from === "carol"));
  }
  await carol.waitForFunction(() => Object.values(window.chat.sent).some((s) => s.text === "hi all" && s.delivered === 2 && s.of === 2));
  step("carol → everyone else: alice and bob got it, carol shows ✓✓ 2/2");

  // bob answers in rust.
  await bob.selectOption("#target", "rust");
  await bob.fill("#text", "hi alice");
  await bob.click("#send");
  await alice.waitForFunction(() => window.chat.received.some((m) => m.text === "hi alice" && m.from === "bob"));
  await alice.waitForTimeout(300);

  // Who received what, exactly.
  const received = {};
  for (const nick of people) received[nick] = (await pages[nick].evaluate(() => window.chat.received)).map((m) => m.text).sort();
  assert.deepEqual(received, { alice: ["hi alice", "hi all"], bob: ["hello rust", "hi all"], carol: [] });
  step("who received what: alice [hi alice, hi all], bob [hello rust, hi all], carol []");

  for (const nick of people) await screenshot(pages[nick], nick);

  // bob leaves rust: the list follows, alice is told.
  await bob.locator('#rooms li[data-room="rust"] button').click();
  await bob.waitForFunction(() => !window.chat.joined.includes("rust"));
  for (const nick of people) await roomsAre(pages[nick], [["go", 1, ["carol"]], ["rust", 1, ["alice"]]]);
  await alice.waitForFunction(() => window.chat.notices.some((n) => n.text === "bob left rust"));
  step("bob left rust: every list shows rust (1); alice got the notice");

  // carol closes her page: go disappears.
  await carol.close();
  for (const page of [alice, bob]) await roomsAre(page, [["rust", 1, ["alice"]]]);
  step("carol closed her page: go is gone from the lists");
  await screenshot(alice, "alice-end");
  await context.close();
  return { received };
}

// ---------------------------------------------------------------------------------------------

async function upload(browser) {
  assert.ok(args.file, "--file is needed");
  const size = fs.statSync(args.file).size;
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await open(context, "/upload.html", "upload");
  await page.waitForFunction(() => window.sockeyeTransport && window.sockeyeTransport.state === "connected", null, { timeout: 15000 });
  await checkTransport(page, "upload");

  // The page's SHA-256 against WebCrypto's, on sizes around the block boundaries.
  const selfTest = await page.evaluate(async () => {
    const failures = [];
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 65536, 1000003]) {
      const bytes = new Uint8Array(n);
      for (let i = 0; i < n; i++) bytes[i] = (i * 7 + 3) & 255;
      const whole = Sha256.toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
      const pieces = new Sha256();
      for (let i = 0; i < n; i += 777) pieces.update(bytes.subarray(i, Math.min(n, i + 777)));
      if (Sha256.hex(bytes) !== whole || pieces.hex() !== whole) failures.push(n);
    }
    return failures;
  });
  assert.deepEqual(selfTest, [], "sha256.js agrees with WebCrypto");
  step("sha256.js agrees with WebCrypto (whole and in pieces)");

  await page.setInputFiles("#file", args.file);
  await page.click("#start");
  if (args.interrupt) {
    // Cut it from inside the page as soon as 30% is acknowledged, before the upload can end.
    const at = await page.evaluate(
      (s) =>
        new Promise((resolve) => {
          const timer = setInterval(() => {
            if ((window.upload.acked || 0) < s * 0.3 && window.upload.state !== "done") return;
            clearInterval(timer);
            if (window.upload.state === "done") return resolve(null);
            document.getElementById("interrupt").click();
            resolve(window.upload.cutAt);
          }, 2);
        }),
      size,
    );
    assert.ok(at !== null && at < size, "the connection was cut before the end");
    step(`cut the connection at ${at} bytes acknowledged`);
    await screenshot(page, "interrupted");
  }
  await page.waitForFunction(() => ["done", "failed", "cancelled"].includes(window.upload.state) || window.upload.state.startsWith("refused"), null, { timeout: 240000 });
  const state = await page.evaluate(() => window.upload);
  assert.equal(state.state, "done", "upload state: " + JSON.stringify(state));
  assert.ok(state.result.ok, "server: " + JSON.stringify(state.result));
  assert.match(state.browserHash, /^[0-9a-f]{64}$/);
  assert.equal(state.serverHash, state.browserHash, "the server's SHA-256 is the browser's");
  assert.equal(state.result.size, size);
  assert.equal(await page.locator("#hash-browser").innerText(), state.browserHash);
  assert.equal(await page.locator("#hash-server").innerText(), state.serverHash);
  assert.ok((await page.locator("#hash-result").innerText()).includes("match"));
  if (args.interrupt) {
    assert.ok(state.resumes.length >= 1 && state.resumes[0] > 0, "resumed after the reconnection: " + JSON.stringify(state.resumes));
    const history = await page.evaluate(() => window.sockeyeTransport.history);
    assert.ok(history.filter((h) => h.startsWith("connect:")).length >= 2, "reconnected: " + history.join(", "));
  }
  step(`uploaded ${size} bytes in ${state.result.seconds.toFixed(2)} s (${state.result.mbPerSecond.toFixed(1)} MiB/s), resumed at ${JSON.stringify(state.resumes)}; hashes match: ${state.browserHash}`);
  await screenshot(page, "done");
  await context.close();
  return { size, browserHash: state.browserHash, serverHash: state.serverHash, name: state.name, seconds: state.result.seconds, mbPerSecond: state.result.mbPerSecond, resumes: state.resumes, cutAt: state.cutAt ?? null };
}

// ---------------------------------------------------------------------------------------------

async function binary(browser) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  // Every poll is kept in the resource timings, to see which bodies came compressed.
  await context.addInitScript(() => performance.setResourceTimingBufferSize(100000));
  const page = await open(context, "/binary.html", "binary");
  await page.waitForFunction(() => window.sockeyeTransport && window.sockeyeTransport.state === "connected", null, { timeout: 15000 });
  await checkTransport(page, "binary");
  const runs = [];
  // arraybuffer, blob, and back: a switch either way takes effect on the open connection.
  for (const binaryType of ["arraybuffer", "blob", "arraybuffer"]) {
    await page.selectOption("#binary-type", binaryType);
    const index = runs.length;
    await page.click("#run");
    await page.waitForFunction((i) => window.binary.runs[i] && window.binary.runs[i].done, index, { timeout: 30000 });
    const run = await page.evaluate((i) => window.binary.runs[i], index);
    const failed = run.results.filter((r) => !r.ok);
    assert.deepEqual(failed, [], `binaryType ${binaryType}: failures`);
    assert.equal(run.binaryType, binaryType);
    assert.ok(run.results.length >= 10);
    for (const r of run.results.filter((r) => r.name !== "server's SHA-256 of ArrayBuffer, Blob, Uint8Array")) {
      if (r.name.startsWith("mixed")) continue;
      assert.ok(r.received.startsWith(binaryType === "blob" ? "Blob" : "ArrayBuffer"), `${r.name}: received ${r.received}`);
    }
    step(`binaryType ${binaryType}: ${run.passed}/${run.results.length} round-trips passed over ${run.transport}`);
    await screenshot(page, binaryType + "-" + index);
    runs.push({ binaryType, transport: run.transport, passed: run.passed });
  }
  // Large polling responses come gzip-encoded (the server's httpCompression, on by default), and
  // the browser decoded them: the round-trips above passed.
  const polls = await page.evaluate(() =>
    performance
      .getEntriesByType("resource")
      .filter((e) => e.name.includes("/socket.io/") && e.name.includes("transport=polling") && e.encodedBodySize > 0)
      .map((e) => ({ encoded: e.encodedBodySize, decoded: e.decodedBodySize })),
  );
  const compressed = polls.filter((p) => p.decoded >= 1024 && p.encoded < p.decoded).length;
  if (args.transports === "polling") {
    assert.ok(compressed > 0, `no compressed poll among ${JSON.stringify(polls.slice(0, 20))}`);
    step(`${compressed} of ${polls.length} polling responses came compressed`);
  }
  await context.close();
  return { runs, compressed };
}

// A user's own app from `--static DIR` (the Rust test writes it): its index.html and seed.html
// win over the built-in pages, the other demo pages are still there, and the seed's client code
// in the user's index.html talks to the seed namespace with the seed's exact strings.
async function ownApp(browser) {
  for (const pagePath of ["/", "/index.html"]) {
    const res = await fetch(base + pagePath);
    assert.equal(res.status, 200, pagePath);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8", pagePath);
    assert.match(await res.text(), /<h1>My own app<\/h1>/, `${pagePath} is the user's index.html`);
  }
  const seedPage = await (await fetch(base + "/seed.html")).text();
  assert.match(seedPage, /<h1>My seed page<\/h1>/, "/seed.html is the user's");
  const chatPage = await (await fetch(base + "/chat.html")).text();
  assert.match(chatPage, /socket\.io\.js/, "/chat.html, not replaced, is still the built-in page");
  step("/, /index.html and /seed.html are the user's files; /chat.html is still the demo's");

  const context = await browser.newContext();
  const page = await open(context, "/index.html", "own");
  await page.waitForFunction(() => window.app && window.app.motd && window.app.ack, null, { timeout: 15000 });
  const expected = { websocket: ["websocket", false], polling: ["polling", false], auto: ["websocket", true] }[args.transports];
  await page.waitForFunction(
    ([name, upgraded]) => window.app.transport === name && window.app.upgraded === upgraded,
    expected,
    { timeout: 15000 },
  );
  if (args.transports === "polling") await page.waitForTimeout(800);
  const app = await page.evaluate(() => window.app);
  assert.equal(app.motd, "Welcome to my server!", "motd");
  assert.equal(app.ack, "Roger that", "ack of important_message");
  assert.equal(app.transport, expected[0], "transport");
  assert.equal(app.upgraded, expected[1], "upgraded");
  assert.equal(await page.locator("#motd").innerText(), "Welcome to my server!");
  const stats = await (await fetch(base + "/stats.json")).json();
  const got = stats.seed_messages.filter((m) => m.from === app.id);
  assert.deepEqual(
    got.map((m) => [m.event, m.data]),
    [["message", "'ello friends, I am here."], ["important_message", { alias: "Me", message: "The building is on fire" }]],
    "the server got the seed's two messages",
  );
  step(`the user's page (transport ${app.transport}, upgraded ${app.upgraded}) got the motd and "Roger that"`);
  await screenshot(page, "own-app");
  await context.close();
  return app;
}

// ---------------------------------------------------------------------------------------------

const scenarios = { bundle, seed, chat, upload, binary, "own-app": ownApp };

async function main() {
  const scenario = scenarios[args.scenario];
  if (!scenario) throw new Error("unknown scenario " + args.scenario);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const browser = await chromium.launch(LAUNCH);
  try {
    const result = await scenario(browser);
    assert.deepEqual(pageErrors, [], "errors in the pages");
    console.log("RESULT " + JSON.stringify(result));
  } finally {
    await browser.close();
  }
}

const watchdog = setTimeout(() => {
  console.error("FAILED: the scenario took more than 5 minutes");
  process.exit(1);
}, 300000);

main().then(
  () => {
    clearTimeout(watchdog);
    process.exit(0);
  },
  (err) => {
    console.error("FAILED: " + (err && err.stack ? err.stack : err));
    if (pageErrors.length) console.error("page errors:\n" + pageErrors.join("\n"));
    console.error("page console (last 80 lines):\n" + consoleLines.slice(-80).join("\n"));
    process.exit(1);
  },
);
