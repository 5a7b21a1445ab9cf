// npm's socket.io-client 4.x on every node of a mixed cluster (started by
// `crates/redis/tests/mixed.rs`): two Sockeye nodes and one Node node on one Redis.
//
//   node tests/js/redis-clients.mjs <sockeye url> <sockeye url> <node url>
//
// One client per node ("a", "b", "n"). Each node answers the acknowledged event
// `cmd (op, arg)` as `redis-node.mjs` does, so every client makes its node broadcast (to all, to
// a room, except a room, from its socket, binary), broadcast with acks, fetch the sockets of the
// cluster and disconnect a socket of another node. The script prints `{"ok": true}` and exits 0,
// or prints `{"ok": false, "error": ...}` and exits 1.

import { io } from "socket.io-client";

const WAIT_MS = 10_000;
const names = ["a", "b", "n"];
const urls = process.argv.slice(2, 5);

function fail(error) {
  console.log(JSON.stringify({ ok: false, error: String(error && error.stack ? error.stack : error) }));
  process.exit(1);
}
setTimeout(() => fail("the whole run timed out"), 60_000).unref();

function decode(value) {
  return Buffer.isBuffer(value) || value instanceof ArrayBuffer ? { $bin: Buffer.from(value).toString("hex") } : value;
}

async function until(what, check) {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function same(actual, expected, what) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, expected ${e}`);
}

async function main() {
  const clients = urls.map((url) => io(url, { transports: ["websocket"], forceNew: true, reconnection: false }));
  const logs = clients.map(() => []);
  clients.forEach((client, i) => {
    client.onAny((event, ...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      if (event === "ask" && ack) ack(names[i]);
      logs[i].push([event, ...args.map(decode)]);
    });
  });
  await Promise.all(clients.map((c) => new Promise((resolve, reject) => {
    c.on("connect", resolve);
    c.on("connect_error", reject);
  })));
  const [a, b, n] = clients;
  const cmd = async (client, op, arg) => {
    const result = await client.timeout(WAIT_MS).emitWithAck("cmd", op, arg);
    if (result && result.error) throw new Error(`${op}: ${result.error}`);
    return result;
  };

  await cmd(a, "join", { room: "red" });
  await cmd(n, "join", { room: "red" });
  for (const [i, sender] of clients.entries()) {
    const label = names[i];
    await cmd(sender, "emit", { event: "all", args: [label] });
    await cmd(sender, "emit", { event: "red", to: ["red"], args: [label] });
    await cmd(sender, "emit", { event: "notred", except: ["red"], args: [label] });
    await cmd(sender, "broadcast", { event: "others", args: [label] });
    await cmd(sender, "emit", { event: "bin", args: [{ $bin: "0102ff" }] });
  }
  const expected = {
    a: { all: 3, red: 3, notred: 0, others: 2, bin: 3 },
    b: { all: 3, red: 0, notred: 3, others: 2, bin: 3 },
    n: { all: 3, red: 3, notred: 0, others: 2, bin: 3 },
  };
  const counts = (i) => {
    const c = { all: 0, red: 0, notred: 0, others: 0, bin: 0 };
    for (const [event] of logs[i]) if (event in c) c[event]++;
    return c;
  };
  for (const [i, name] of names.entries()) {
    await until(`the broadcasts of ${name}`, () => JSON.stringify(counts(i)) === JSON.stringify(expected[name]));
  }
  await new Promise((r) => setTimeout(r, 300));
  for (const [i, name] of names.entries()) {
    same(counts(i), expected[name], `broadcasts received by ${name}`);
    const others = logs[i].filter(([e]) => e === "others").map(([, from]) => from).sort();
    same(others, names.filter((x) => x !== name), `socket.broadcast senders seen by ${name}`);
    for (const [event, arg] of logs[i]) {
      if (event === "bin") same(arg, { $bin: "0102ff" }, `binary received by ${name}`);
    }
  }

  for (const [i, sender] of clients.entries()) {
    const replies = await cmd(sender, "emitWithAck", { event: "ask", args: ["q"], timeout: 5000 });
    same([...replies].sort(), names, `acks of a broadcast from ${names[i]}`);
    const fetched = await cmd(sender, "fetchSockets", {});
    same(fetched.map((s) => s.id).sort(), clients.map((c) => c.id).sort(), `fetchSockets on ${names[i]}'s node`);
  }

  // A socket of another node is disconnected by a request, in both directions.
  const gone = (client) => new Promise((resolve) => client.on("disconnect", resolve));
  const aGone = gone(a);
  await cmd(n, "disconnectSockets", { to: [a.id] });
  same(await aGone, "io server disconnect", "a disconnected by the Node node");
  const nGone = gone(n);
  await cmd(b, "disconnectSockets", { to: [n.id] });
  same(await nGone, "io server disconnect", "n disconnected by a Sockeye node");

  clients.forEach((c) => c.close());
  console.log(JSON.stringify({ ok: true }));
  process.exit(0);
}

main().catch(fail);
