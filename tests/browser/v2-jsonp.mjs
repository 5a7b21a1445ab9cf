// A Socket.IO 2.x browser client on JSONP polling (`forceJSONP: true`: <script> tags to read,
// a form posted into an iframe to write), in Debian's Chromium driven by playwright-core,
// against the Sockeye server of crates/sockeye/tests/browser_v2.rs:
//
//   node tests/browser/v2-jsonp.mjs <url> <accepted|refused>
//
// The page (`<url>/v2.html`) loads the 2.x bundle (`socket.io-client@2`'s dist/socket.io.js).
// accepted: connects, takes a welcome, echoes text and binary with acks, answers an ack the
// server asks for. refused: the server has JSONP off; the connect error is reported.
//
// Prints one JSON line (`{"ok": true, ...}`) and exits 0, or `{"ok": false, "error": ...}` and
// exits 1.

import { chromium } from "playwright-core";

const [url, mode] = process.argv.slice(2);
const consoleLines = [];

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  page.on("console", (msg) => consoleLines.push(`${msg.type()}: ${msg.text()}`));
  page.on("pageerror", (err) => consoleLines.push(`pageerror: ${err.message}`));
  await page.goto(`${url}/v2.html`);
  const result = await page.evaluate(async (mode) => {
    const hex = (buffer) =>
      Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
    const within = (promise, what) =>
      Promise.race([
        promise,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), 10000)),
      ]);
    const socket = io({ transports: ["polling"], forceJSONP: true, reconnection: false });
    if (mode === "refused") {
      const error = await within(
        new Promise((resolve, reject) => {
          socket.on("connect", () => reject(new Error("connected")));
          socket.on("connect_error", (e) => resolve(e.message));
        }),
        "connect_error",
      );
      return { error, scripts: document.querySelectorAll("script[src*='j=']").length };
    }
    const welcome = new Promise((resolve) => socket.once("welcome", (...args) => resolve(args)));
    await within(
      new Promise((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("connect_error", (e) => reject(new Error(`connect_error ${e.message}`)));
      }),
      "connect",
    );
    const transport = socket.io.engine.transport;
    const call = (...args) =>
      within(new Promise((resolve) => socket.emit(...args, (...reply) => resolve(reply))), args[0]);
    socket.on("question", (text, ack) => ack(`answer to ${text}`));
    const echo = await call("echo", "héllo", { n: 1 });
    const [bin, meta] = await call("echo", new Uint8Array([0, 1, 2, 255]).buffer, { label: "doc" });
    const asked = await call("ask-me", "life");
    const result = {
      id: socket.id,
      engine: socket.io.engine.id,
      transport: transport.name,
      jsonpIndex: transport.query.j,
      // JSONP polling writes with a form; XHR polling has none.
      forms: document.querySelectorAll("form.socketio").length,
      welcome: (await within(welcome, "welcome")).map((v) =>
        v instanceof ArrayBuffer ? { $bin: hex(v) } : v,
      ),
      echo,
      binEcho: [bin instanceof ArrayBuffer ? { $bin: hex(bin) } : bin, meta],
      asked,
    };
    socket.close();
    return result;
  }, mode);
  console.log(JSON.stringify({ ok: true, ...result, console: consoleLines }));
  await browser.close();
  process.exit(0);
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: `${error?.stack ?? error}\n${consoleLines.join("\n")}` }));
  await browser.close();
  process.exit(1);
}
