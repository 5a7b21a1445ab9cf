// The official Socket.IO client in Debian's Chromium over WebTransport, against
// `sockeye serve --webtransport` (self-signed certificate, pinned by its hash):
//
//   node webtransport.mjs --url http://127.0.0.1:PORT [--artifacts DIR]
//
// 1. The demo page /binary.html?transports=webtransport connects over WebTransport (its
//    options come from /webtransport.json).
// 2. io() with transports ["webtransport"], then ["polling", "webtransport"] (an upgrade),
//    with transportOptions.webtransport.serverCertificateHashes: events, binary and acks.
//
// Prints `RESULT <json>` and exits 0 on success; prints the reason and the console, exits 1.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
// A fresh profile each run (playwright's default). No flag is needed for WebTransport with
// `serverCertificateHashes`; QUIC is on by default (run.mjs turns it off for its own tests).
const LAUNCH = {
  executablePath: CHROMIUM,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
};

const args = { artifacts: null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i].startsWith("--")) args[argv[i].slice(2)] = argv[++i];
}
if (!args.url) {
  console.error("usage: node webtransport.mjs --url URL [--artifacts DIR]");
  process.exit(2);
}
const base = args.url.replace(/\/$/, "");
const consoleLines = [];

function step(text) {
  console.log("- " + text);
}

/** In the page: connects with `transports`, exchanges events and acks, and reports. */
async function exchange(page, transports) {
  return page.evaluate(async (transports) => {
    const info = await (await fetch("/webtransport.json")).json();
    const socket = io("/binary", {
      path: "/socket.io/",
      transports,
      reconnection: false,
      transportOptions: {
        webtransport: {
          port: info.port,
          serverCertificateHashes: [{ algorithm: "sha-256", value: new Uint8Array(info.sha256) }],
        },
      },
    });
    const history = [];
    socket.io.on("open", () => {
      history.push("open: " + socket.io.engine.transport.name);
      socket.io.engine.on("upgrade", (t) => history.push("upgrade: " + t.name));
    });
    await new Promise((resolve, reject) => {
      socket.on("connect", resolve);
      socket.on("connect_error", (e) => reject(new Error("connect_error: " + e.message + " " + JSON.stringify(e.description || ""))));
      setTimeout(() => reject(new Error("no connect in 10 s: " + history.join(", "))), 10000);
    });
    if (transports.length > 1) {
      // Wait for the upgrade to finish.
      await new Promise((resolve, reject) => {
        if (socket.io.engine.transport.name === "webtransport") return resolve();
        socket.io.engine.on("upgrade", () => resolve());
        setTimeout(() => reject(new Error("no upgrade in 10 s: " + history.join(", "))), 10000);
      });
    }
        // emitWithAck resolves with the ack's first argument.
    const echo = await socket.timeout(5000).emitWithAck("echo", { text: "héllo", n: 42 });
    const bytes = new Uint8Array(100000).map((_, i) => i % 251);
    const binaryEcho = await socket.timeout(5000).emitWithAck("echo", bytes);
    const back = new Uint8Array(binaryEcho);
    let same = back.length === bytes.length;
    for (let i = 0; same && i < bytes.length; i++) same = back[i] === bytes[i];
    // Not an empty one: the official client frames it with a length of zero, which the
    // server refuses, as Node's does (docs/webtransport.md).
    const digests = await socket.timeout(5000).emitWithAck("digest", new Uint8Array([1, 2, 3]), new Uint8Array([4, 5]));
    const generated = await socket.timeout(5000).emitWithAck("generate", { size: 70000 });
    const result = {
      id: socket.id,
      transport: socket.io.engine.transport.name,
      history,
      echo,
      binaryEchoSame: same,
      binaryEchoLength: back.length,
      digests,
      generatedLength: new Uint8Array(generated).length,
    };
    socket.disconnect();
    return result;
  }, transports);
}

const browser = await chromium.launch(LAUNCH);
let exitCode = 0;
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("console", (msg) => consoleLines.push(`${msg.type()}: ${msg.text()}`));
  page.on("pageerror", (err) => consoleLines.push(`pageerror: ${err.message}`));

  step("demo page /binary.html?transports=webtransport");
  await page.goto(base + "/binary.html?transports=webtransport");
  const hasWebTransport = await page.evaluate(() => typeof WebTransport !== "undefined" && window.isSecureContext);
  assert.ok(hasWebTransport, "this Chromium has no WebTransport in a secure context");
  await page.waitForFunction(
    () => {
      const t = window.sockeyeTransport;
      return t && t.state === "connected" && t.current === "webtransport";
    },
    null,
    { timeout: 15000 },
  );
  const demo = await page.evaluate(() => window.sockeyeTransport);
  assert.equal(demo.history[0], "open: webtransport");
  if (args.artifacts) {
    fs.mkdirSync(args.artifacts, { recursive: true });
    await page.screenshot({ path: path.join(args.artifacts, "webtransport-binary.png"), fullPage: true });
  }

  step('io() with transports ["webtransport"]');
  const direct = await exchange(page, ["webtransport"]);
  step('io() with transports ["polling", "webtransport"]');
  const upgraded = await exchange(page, ["polling", "webtransport"]);

  for (const [name, r] of [["direct", direct], ["upgraded", upgraded]]) {
    assert.equal(r.transport, "webtransport", name);
    assert.deepEqual(r.echo, { text: "héllo", n: 42 }, name);
    assert.ok(r.binaryEchoSame, `${name}: binary echo`);
    assert.equal(r.binaryEchoLength, 100000, name);
    assert.deepEqual(
      r.digests.map((d) => d.size),
      [3, 2],
      name,
    );
    assert.equal(r.digests[0].sha256, "039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81", name);
    assert.equal(r.generatedLength, 70000, name);
  }
  assert.deepEqual(direct.history, ["open: webtransport"]);
  assert.deepEqual(upgraded.history, ["open: polling", "upgrade: webtransport"]);
  console.log("RESULT " + JSON.stringify({ demo: demo.history, direct, upgraded }));
} catch (error) {
  console.log("FAILED: " + (error && error.stack ? error.stack : error));
  for (const line of consoleLines) console.log("  console " + line);
  exitCode = 1;
} finally {
  await browser.close();
}
process.exit(exitCode);
