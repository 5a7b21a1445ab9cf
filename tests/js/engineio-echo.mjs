// Interop check of a Sockeye Engine.IO echo server with the official engine.io-client (6.x).
//
//   node tests/js/engineio-echo.mjs <server url> <polling|websocket|upgrade>
//
// Connects at path /engine.io/, sends text and binary messages (unicode, empty, 100 KB) and
// checks that each comes back unchanged and in order. In `upgrade` mode the client starts on
// polling, some messages go before the upgrade, and the rest after the `upgrade` event; the
// transport must end as websocket. Prints one JSON line and exits 0 on success; prints the
// failure and exits 1 otherwise, or after an overall timeout.

import { Socket } from "engine.io-client";

const TIMEOUT_MS = 30_000;
const [url, mode] = process.argv.slice(2);

const result = { ok: false, mode, url };

function finish(ok, extra = {}) {
  Object.assign(result, extra, { ok });
  console.log(JSON.stringify(result));
  process.exit(ok ? 0 : 1);
}

function fail(message) {
  finish(false, { error: String(message) });
}

const transportsByMode = {
  polling: { transports: ["polling"], upgrade: false },
  websocket: { transports: ["websocket"], upgrade: false },
  upgrade: { transports: ["polling", "websocket"], upgrade: true },
};
if (!url || !transportsByMode[mode]) {
  fail(`usage: engineio-echo.mjs <url> <${Object.keys(transportsByMode).join("|")}>`);
}

const timer = setTimeout(() => fail(`timed out after ${TIMEOUT_MS} ms`), TIMEOUT_MS);

function bytes(length, seed) {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

function bigText(length) {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 éü€😀";
  let text = "";
  while (text.length < length) text += alphabet;
  return text.slice(0, length);
}

// Each message as sent, and as it must come back (strings, or Buffers for binary).
const messages = [
  "hello",
  "héllo wörld € 😀 日本語",
  "",
  '{"json":true,"n":[1,2,3]}',
  bytes(16, 1), // Buffer
  new Uint8Array([0, 1, 2, 253, 254, 255]), // typed array
  bytes(64, 7).buffer.slice(0, 64), // ArrayBuffer
  bigText(100 * 1024),
  bytes(100 * 1024, 3),
  "last",
];

function toBuffer(data) {
  if (typeof data === "string") return null;
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new Error(`unexpected message type ${Object.prototype.toString.call(data)}`);
}

function describe(data) {
  if (data === undefined) return "undefined";
  if (typeof data === "string") {
    return `text(${data.length}) ${JSON.stringify(data.slice(0, 40))}`;
  }
  return `binary(${toBuffer(data).length})`;
}

function same(expected, actual) {
  // engine.io-parser decodes an empty message ("4") with no data at all, whatever the server.
  if (expected === "") return actual === "" || actual === undefined;
  if (typeof expected === "string") return typeof actual === "string" && actual === expected;
  if (actual === undefined) return false;
  if (typeof actual === "string") return false;
  return toBuffer(expected).equals(toBuffer(actual));
}

const socket = new Socket(url, { path: "/engine.io/", ...transportsByMode[mode] });
let received = 0;
let sent = 0;
let upgraded = false;
let opened = false;

function sendNext(count) {
  for (let i = 0; i < count && sent < messages.length; i++) {
    socket.send(messages[sent++]);
  }
}

socket.on("open", () => {
  opened = true;
  result.openTransport = socket.transport.name;
  if (mode === "upgrade") {
    if (socket.transport.name !== "polling") fail(`opened on ${socket.transport.name}`);
    // Some messages go before the upgrade; the rest once it is done.
    sendNext(4);
  } else {
    if (socket.transport.name !== mode) fail(`opened on ${socket.transport.name}`);
    sendNext(messages.length);
  }
});

socket.on("upgrade", (transport) => {
  upgraded = true;
  if (transport.name !== "websocket") fail(`upgraded to ${transport.name}`);
  sendNext(messages.length);
});

socket.on("message", (data) => {
  const expected = messages[received];
  if (received >= sent) return fail(`unexpected message ${describe(data)}`);
  if (!same(expected, data)) {
    return fail(`message ${received}: expected ${describe(expected)}, got ${describe(data)}`);
  }
  received++;
  if (received === messages.length) done();
});

socket.on("error", (error) => fail(`error: ${error && error.message ? error.message : error}`));
socket.on("close", (reason, description) => {
  if (received < messages.length) {
    fail(`closed early (${reason}) ${description ? JSON.stringify(String(description)) : ""}`);
  }
});

function done() {
  const transport = socket.transport.name;
  if (mode === "upgrade" && (!upgraded || transport !== "websocket")) {
    return fail(`expected to end on websocket, on ${transport} (upgraded: ${upgraded})`);
  }
  if (mode !== "upgrade" && transport !== mode) {
    return fail(`expected to stay on ${mode}, on ${transport}`);
  }
  clearTimeout(timer);
  socket.close();
  // Leave the close packet time to go out before the process ends.
  setTimeout(() => finish(true, { transport, opened, upgraded, messages: received }), 200);
}
