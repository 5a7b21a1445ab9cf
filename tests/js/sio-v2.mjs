// Socket.IO 2.x clients (npm `socket.io-client@2`, aliased `socket.io-client-v2`: Engine.IO v3,
// Socket.IO protocol v4) beside a 4.x client, against the Sockeye server of
// crates/sockeye/tests/interop_v2.rs:
//
//   node tests/js/sio-v2.mjs <url> <websocket|polling|upgrade|refused-websocket|refused-polling>
//
// - websocket / polling / upgrade (polling, then WebSocket, waited for): the scenario (events, acks both ways, binary, namespaces with a query,
//   refusals, rooms and broadcasts mixing v2 and v4 clients); every step's outcome goes in the
//   result for the Rust test to check.
// - refused-*: the server does not allow EIO=3; the result has the error the v2 client got.
//
// Prints one JSON line (`{"ok": true, ...}`) and exits 0, or `{"ok": false, "error": ...}` and
// exits 1 on any failure or timeout.

import ioV2 from "socket.io-client-v2";
import { io as ioV4 } from "socket.io-client";

const WAIT_MS = 10_000;
const [url, mode] = process.argv.slice(2);
const transport = mode.replace("refused-", "");
const transports = transport === "upgrade" ? ["polling", "websocket"] : [transport];

function within(promise, what, ms = WAIT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A JSON-friendly copy: binary as {"$bin": hex}. */
function encode(value) {
  if (Buffer.isBuffer(value)) return { $bin: value.toString("hex") };
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("hex") };
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  }
  return value;
}

const sockets = [];

function v2(nsp, query) {
  const socket = ioV2(url + nsp, {
    transports,
    forceNew: true,
    reconnection: false,
    query,
  });
  sockets.push(socket);
  return socket;
}

function v4(name) {
  const socket = ioV4(url, {
    transports,
    forceNew: true,
    reconnection: false,
    auth: { name },
  });
  sockets.push(socket);
  return socket;
}

/** Resolves on `connect` (and in upgrade mode once on WebSocket), rejects on a refusal. */
function connected(socket, what) {
  return within(
    new Promise((resolve, reject) => {
      socket.once("connect", () => {
        const engine = socket.io.engine;
        if (transport !== "upgrade" || engine.transport.name === "websocket") return resolve();
        engine.once("upgrade", () => resolve());
      });
      socket.once("connect_error", (e) => reject(new Error(`${what}: connect_error ${e}`)));
      socket.once("error", (e) => reject(new Error(`${what}: error ${JSON.stringify(e)}`)));
    }),
    `${what} to connect`,
  );
}

/** The `error` (v2) a refused socket gets. */
function refused(socket, what) {
  return within(
    new Promise((resolve, reject) => {
      socket.once("connect", () => reject(new Error(`${what} connected`)));
      socket.once("error", (e) => resolve(encode(e)));
    }),
    `${what} to be refused`,
  );
}

/** Emits and waits for the acknowledgement's arguments. */
function call(socket, event, ...args) {
  return within(
    new Promise((resolve) => socket.emit(event, ...args, (...reply) => resolve(encode(reply)))),
    `the ack of ${event}`,
  );
}

/** The next `event`'s arguments. */
function next(socket, event) {
  return within(
    new Promise((resolve) => socket.once(event, (...args) => resolve(encode(args)))),
    `event ${event}`,
  );
}

/** Everything `socket` gets as `event` from now on. */
function record(socket, event) {
  const got = [];
  socket.on(event, (...args) => got.push(encode(args)));
  return got;
}

async function refusedScenario() {
  const socket = v2("/", { who: "old" });
  const error = await within(
    new Promise((resolve, reject) => {
      socket.once("connect", () => reject(new Error("the v2 client connected")));
      socket.once("connect_error", (e) =>
        resolve({
          message: e.message,
          description: typeof e.description === "number" ? e.description : null,
        }),
      );
    }),
    "the v2 client to be refused",
  );
  return { error };
}

async function scenario() {
  const got = {};
  // The welcome is sent by the connection handler, before any listener could be added after
  // `connect`: it is listened for at once.
  const A = v2("/", { who: "A" });
  const welcome = next(A, "welcome");
  await connected(A, "A (v2, /)");
  got.welcome = await welcome;
  got.A = { id: A.id, engine: A.io.engine.id, transport: A.io.engine.transport.name };

  const B = v4("B");
  await connected(B, "B (v4, /)");

  // Events and acknowledgements, client to server.
  got.echo = await call(A, "echo", "hello", 42, { nested: [1, null, true] });
  got.whoami = await call(A, "whoami");
  // Binary, both ways and in an ack.
  got.binEcho = await call(A, "echo", Buffer.from([0, 1, 2, 255]), {
    file: Buffer.from("bytes"),
    label: "doc",
  });
  const binPush = next(A, "bin-push");
  got.binSent = await call(A, "send-bin");
  got.binPush = await binPush;
  // An acknowledgement the server asks the client for.
  A.on("question", (text, ack) => ack(`answer to ${text}`, Buffer.from([9, 9])));
  got.asked = await call(A, "ask-me", "life");

  // Namespaces: the query of the namespace is the auth payload of its socket.
  const C = v2("/chat", { who: "C", token: "secret" });
  await connected(C, "C (v2, /chat)");
  got.C = { id: C.id, engine: C.io.engine.id };
  got.chatWhoami = await call(C, "whoami");
  const direct = next(C, "direct");
  got.directSent = await call(C, "to-id", C.id, "to my own id");
  got.direct = await direct;
  got.badToken = await refused(v2("/chat", { who: "D", token: "wrong" }), "D with a bad token");
  got.invalidNsp = await refused(v2("/nope", { who: "E" }), "E on /nope");
  // A refusal of the implicit connection to `/`, with data.
  got.rootRefused = await refused(v2("/", { who: "banned" }), "banned on /");

  // Rooms: A (v2) and B (v4) join r1; C (v2, /chat) is elsewhere.
  got.joinA = await call(A, "join", "r1");
  got.joinB = await call(B, "join", "r1");
  const toA = record(A, "bcast");
  const toB = record(B, "bcast");
  const toC = record(C, "bcast");
  // Each step is fenced by an acked call on every client: the packets of one connection
  // arrive in order, so what the step sent has arrived.
  const fence = () => Promise.all([call(A, "fence"), call(B, "fence"), call(C, "fence")]);
  await call(B, "to-room", "r1", "from B to r1");
  await fence();
  await call(A, "others-in-room", "r1", "from A to others");
  await fence();
  await call(B, "to-room-bin", "r1");
  await fence();
  await call(C, "everyone", "from C to all of /");
  await fence();
  got.bcast = { A: toA, B: toB, C: toC };
  // A broadcast with acknowledgements that both versions answer.
  A.on("poll", (q, ack) => ack(`A: ${q}`));
  B.on("poll", (q, ack) => ack(`B: ${q}`));
  got.poll = await call(B, "poll-room", "r1");

  // Heartbeat, v3 style: the client pings every pingInterval (2 s here), the server answers.
  got.pongLatency = await within(
    new Promise((resolve) => A.io.once("pong", resolve)),
    "the server's answer to A's ping",
  );
  got.stillConnected = A.connected && C.connected;

  // Leaving a namespace and the connection.
  // C's connection was on `/` too (implicitly), so B hears of C as well: A's is waited for.
  const disconnected = within(
    new Promise((resolve) => B.on("left", (who, reason) => who === "A" && resolve([who, reason]))),
    "B to hear that A left",
  );
  C.close();
  A.close();
  got.left = await disconnected;
  return got;
}

const timer = setTimeout(() => {
  console.log(JSON.stringify({ ok: false, error: "overall timeout" }));
  process.exit(1);
}, 60_000);

try {
  const result = mode.startsWith("refused-") ? await refusedScenario() : await scenario();
  console.log(JSON.stringify({ ok: true, ...result }));
  clearTimeout(timer);
  for (const socket of sockets) socket.close();
  process.exit(0);
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error?.stack ?? error) }));
  process.exit(1);
}
