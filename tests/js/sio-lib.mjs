// Shared driver of the Socket.IO interop scripts (`sio-*.mjs`), which run npm's
// `socket.io-client` 4.x against a Sockeye server started by the Rust tests in
// `crates/sockeye/tests/interop_*.rs`:
//
//   node tests/js/sio-<area>.mjs <server url> <websocket|polling|upgrade>
//
// - websocket: `transports: ["websocket"]`; polling: `transports: ["polling"]`;
//   upgrade: the default (polling, then WebSocket), and each client waits for the `upgrade`
//   event of its engine before it is used.
// - Every client records what it receives (events, with binary values as {"$bin": hex}, and the
//   reserved `connect`, `disconnect` and `connect_error` as "$connect"...), so the script can
//   wait for events (with a timeout, never a fixed sleep) and report what each client got.
// - A "fence" (an acknowledged event the test servers answer) orders things: once a client's
//   fence is acknowledged, everything the server sent it before is in its log, as packets of one
//   connection arrive in order.
//
// The script prints one JSON line (`{"ok": true, ...}`) and exits 0, or prints
// `{"ok": false, "error": ...}` and exits 1 on any failure, unexpected error or timeout. The Rust
// test checks the JSON; this side only drives and records.

import { io, Manager } from "socket.io-client";

/** How long to wait for one thing that should happen. */
export const WAIT_MS = 10_000;
const OVERALL_MS = 60_000;

const MODES = {
  websocket: { transports: ["websocket"] },
  polling: { transports: ["polling"] },
  upgrade: {},
};

/** A JSON-friendly copy of received values: binary as {"$bin": hex}, functions as {"$ack": true}. */
export function encode(value) {
  if (value === undefined) return { $undefined: true };
  if (typeof value === "function") return { $ack: true };
  if (Buffer.isBuffer(value)) return { $bin: value.toString("hex") };
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("hex") };
  if (ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex") };
  }
  if (value instanceof Error) {
    const out = { $error: value.message };
    if (value.data !== undefined) out.data = encode(value.data);
    return out;
  }
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === "object") {
    const out = {};
    for (const [key, inner] of Object.entries(value)) out[key] = encode(inner);
    return out;
  }
  return value;
}

/** Rejects after `ms` with a message saying what was awaited. */
export function within(promise, what, ms = WAIT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One socket (one namespace of a connection) and everything it received. */
export class Client {
  constructor(run, name, socket) {
    this.run = run;
    this.name = name;
    this.socket = socket;
    this.log = [];
    this.mark = 0;
    this.waiters = [];
    socket.onAny((event, ...args) => this.push(event, args));
    for (const reserved of ["connect", "disconnect", "connect_error"]) {
      socket.on(reserved, (...args) => this.push(`$${reserved}`, args));
    }
    run.clients.push(this);
  }

  get label() {
    return `${this.name} ${this.socket.nsp}`;
  }

  push(event, args) {
    this.log.push({ event, args: encode(args), raw: args });
    for (const waiter of this.waiters.slice()) waiter();
  }

  /** The first entry for `event` (after index `from`) whose raw arguments satisfy `test`. */
  find(event, test = () => true, from = 0) {
    return this.log.slice(from).find((entry) => entry.event === event && test(...entry.raw));
  }

  /** Waits for an entry for `event` (already there, or to come); resolves with its raw args. */
  waitFor(event, test = () => true, from = 0) {
    const found = () => this.find(event, test, from);
    const promise = new Promise((resolve) => {
      const check = () => {
        const entry = found();
        if (entry) {
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve(entry.raw);
        }
      };
      this.waiters.push(check);
      check();
    });
    return within(promise, `"${event}" on ${this.label}`);
  }

  /** Waits until the socket is connected, or fails with its connect_error. */
  async connected() {
    if (this.socket.connected) return;
    const outcome = await within(
      new Promise((resolve) => {
        this.socket.once("connect", () => resolve(null));
        this.socket.once("connect_error", (error) => resolve(error));
      }),
      `the connection of ${this.label}`,
    );
    if (outcome) throw new Error(`${this.label} could not connect: ${outcome.message}`);
  }

  /** Emits with an acknowledgement and waits for it (a timeout is a failure). */
  call(event, ...args) {
    return this.socket.timeout(WAIT_MS).emitWithAck(event, ...args).catch((error) => {
      throw new Error(`${this.label}: "${event}" was not acknowledged: ${error.message}`);
    });
  }

  /** See the top of the file; resolves with the transport the server says the client is on. */
  fence() {
    return this.call("fence");
  }

  /** The entries (encoded) logged since `startStep`, for events named in `events`. */
  since(events) {
    return this.log
      .slice(this.mark)
      .filter((entry) => events.includes(entry.event))
      .map((entry) => [entry.event, ...entry.args]);
  }

  /** Every entry (encoded) for `event`, as arrays of arguments. */
  all(event) {
    return this.log.filter((entry) => entry.event === event).map((entry) => entry.args);
  }
}

/** One run of a script: its mode, clients, result and failure handling. */
export class Run {
  constructor(script) {
    const [url, mode] = process.argv.slice(2);
    this.url = url;
    this.mode = mode;
    this.clients = [];
    this.managers = [];
    this.result = { ok: false, script, mode };
    this.finished = false;
    if (!url || !(mode in MODES)) {
      this.fail(`usage: node ${script} <url> <${Object.keys(MODES).join("|")}>`);
    }
    this.timer = setTimeout(() => this.fail(`timed out after ${OVERALL_MS} ms`), OVERALL_MS);
    process.on("unhandledRejection", (error) => this.fail(error));
    process.on("uncaughtException", (error) => this.fail(error));
  }

  /** The client options of the mode, plus `extra`. */
  options(extra = {}) {
    return { forceNew: true, reconnection: false, ...MODES[this.mode], ...extra };
  }

  /** A new connection of its own (`forceNew`), on which `name` joins `nsp`. */
  async connect(name, nsp = "/", { auth = {}, ...extra } = {}) {
    const socket = io(
      this.url + nsp,
      this.options({ auth: { name, ...auth }, query: { who: name }, ...extra }),
    );
    this.managers.push(socket.io);
    const client = new Client(this, name, socket);
    await client.connected();
    await this.upgraded(socket.io);
    return client;
  }

  /** A connection (Manager) that several namespaces can share. */
  manager(name, extra = {}) {
    const manager = new Manager(this.url, this.options({ query: { who: name }, ...extra }));
    this.managers.push(manager);
    return manager;
  }

  /** A socket of `manager` on `nsp`, not yet awaited (see `Client.connected`). */
  socket(manager, name, nsp, auth = {}) {
    return new Client(this, name, manager.socket(nsp, { auth: { name, ...auth } }));
  }

  /** In upgrade mode, waits until the connection is on WebSocket. */
  async upgraded(manager) {
    if (this.mode !== "upgrade") return;
    await within(
      new Promise((resolve) => {
        const check = () => {
          const engine = manager.engine;
          if (engine && engine.transport && engine.transport.name === "websocket") {
            resolve();
            return true;
          }
          return false;
        };
        if (!check()) manager.engine.once("upgrade", () => check() || resolve());
      }),
      "the upgrade to WebSocket",
    );
  }

  /** Marks the start of a step: `Client.since` returns what came after. */
  startStep() {
    for (const client of this.clients) client.mark = client.log.length;
  }

  /** The transport the connection of each connected client ends on (`name nsp` keys). */
  transports() {
    const out = {};
    for (const client of this.clients) {
      if (!client.socket.connected) continue;
      const engine = client.socket.io.engine;
      out[client.label] = engine && engine.transport ? engine.transport.name : null;
    }
    return out;
  }

  /** Reports success. With `awaitKill`, stays connected until the test kills the process. */
  finish(extra = {}, { awaitKill = false } = {}) {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    Object.assign(this.result, { transports: this.transports() }, extra, { ok: true });
    console.log(JSON.stringify(this.result));
    if (awaitKill) {
      // The test kills the process; should it not, leave anyway.
      setTimeout(() => process.exit(3), OVERALL_MS).unref();
      setInterval(() => {}, 1000);
      return;
    }
    for (const manager of this.managers) {
      if (manager.engine) manager.engine.close();
    }
    // Leave the close packets time to go out before the process ends.
    setTimeout(() => process.exit(0), 100);
  }

  fail(error) {
    if (this.finished) return;
    this.finished = true;
    const message = error && error.stack ? error.stack : String(error);
    Object.assign(this.result, { ok: false, error: message });
    console.log(JSON.stringify(this.result));
    process.exit(1);
  }

  /** Runs `main`, failing the run on any error. */
  go(main) {
    main(this).catch((error) => this.fail(error));
  }
}
