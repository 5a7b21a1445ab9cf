// Events, binary and acknowledgements, both ways, between socket.io-client and the Sockeye
// server of crates/sockeye/tests/interop_events.rs:
//
//   node tests/js/sio-events.mjs <url> <websocket|polling|upgrade>
//
// Clients A and B connect to `/` on connections of their own. The result holds what was sent
// (`sent`), what came back (`got`), and the names of the events each client received
// (`events`), for the Rust test to check. See sio-lib.mjs.

import { Run, encode } from "./sio-lib.mjs";

function callback(socket, event, ...args) {
  return new Promise((resolve) => socket.emit(event, ...args, (...reply) => resolve(encode(reply))));
}

function bytes(length, seed) {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

new Run("sio-events.mjs").go(async (run) => {
  const A = await run.connect("A");
  const B = await run.connect("B");
  // Server to client acknowledgements: answered, answered with binary, never answered.
  A.socket.on("question", (text, n, ack) => ack(`answer to ${text}`, n * 2));
  A.socket.on("bin-question", (data, ack) => {
    ack(Buffer.from(data).reverse(), { nested: new Uint8Array([7, 7]), note: "ü" });
  });
  A.socket.on("silent", () => {});

  const sent = {};
  const got = {};

  // What the server sends on connection: several JSON arguments, binary, no argument, an array.
  for (const event of ["welcome", "welcome-bin", "no-args", "one-array"]) {
    await A.waitFor(event);
    got[event] = A.all(event)[0];
  }

  // JSON both ways: nested objects, unicode, several arguments.
  sent.json = [
    {
      name: "Zoë 🚀",
      tags: ["ünï", "日本語", "emoji 😀", ""],
      nested: { deep: [1, null, -3], flag: true, map: { "ключ": "значение", 'quo"te': "back\\slash\n" } },
      score: 1.5,
      missing: null,
    },
    "héllo wörld € 😀 日本語",
    42,
    [1, "two", { three: [3] }, null, true],
  ];
  A.socket.emit("json", ...sent.json);
  sent.jsonB = [{ name: "B", tags: [], nested: { deep: [], flag: false, map: {} }, score: -0.25, missing: "x" }, "b", -1, []];
  B.socket.emit("json", ...sent.jsonB);
  got.json = (await A.waitFor("json-back")).map(encode);
  got.jsonB = (await B.waitFor("json-back")).map(encode);

  // Binary both ways: Buffer, ArrayBuffer, Uint8Array, binary nested in objects and arrays.
  const bin = [
    Buffer.from([1, 2, 3]),
    new Uint8Array([4, 5]).buffer,
    new Uint8Array([6, 7, 8]),
    {
      label: "nested ✓",
      file: Buffer.from("héllo", "utf8"),
      list: [Buffer.from([0xff, 0x00, 0x7f]), "text", { deeper: new Uint8Array([9, 10]) }],
    },
  ];
  sent.bin = encode(bin);
  A.socket.emit("bin", ...bin);
  got.bin = (await A.waitFor("bin-back")).map(encode);

  // Edge cases: an empty buffer and a large one (200 KB), echoed in an acknowledgement.
  const big = bytes(200_000, 5);
  const edge = await new Promise((resolve) => {
    A.socket.emit("bin-edge", Buffer.alloc(0), big, (empty, back) => resolve([empty, back]));
  });
  got.binEdge = {
    emptyLength: Buffer.from(edge[0]).length,
    bigLength: Buffer.from(edge[1]).length,
    bigSame: Buffer.from(edge[1]).equals(big),
  };

  // Client to server acknowledgements.
  got.sum = await A.call("sum", 2, 3);
  got.multiAck = await callback(A.socket, "multi-ack", "x");
  got.emptyAck = await callback(A.socket, "empty-ack");
  got.binAck = await callback(A.socket, "bin-ack", Buffer.from([1, 2, 3]));

  // Server to client acknowledgements (the server reports what it got).
  got.serverAcks = await A.call("start-server-acks");

  // A client-side timeout on an event the server never acknowledges.
  got.clientTimeout = await new Promise((resolve) => {
    A.socket.timeout(500).emit("never-acks", "x", (error, ...rest) => {
      resolve({ error: error ? error.message : null, rest: rest.length });
    });
  });

  // Packet middlewares: one refuses `forbidden` (no handler runs, no ack), one changes `mutate`.
  got.forbidden = await A.socket
    .timeout(500)
    .emitWithAck("forbidden", 1)
    .then((value) => ({ acked: encode(value) }), (error) => ({ error: error.message }));
  got.mutate = await A.call("mutate", "original");

  // Arguments that do not deserialise: the error hook runs, and an ack gets {"error": ...}.
  got.typedBad = await A.call("typed", "not a number");
  A.socket.emit("typed", "no ack either");
  got.typedGood = await A.call("typed", 41);

  // An event with no handler (on_any still sees it).
  A.socket.emit("unhandled-event", 1);

  // Per-socket typed data: a counter each socket keeps.
  got.counts = { A: [], B: [] };
  got.counts.A.push(await A.call("count"));
  got.counts.A.push(await A.call("count"));
  got.counts.B.push(await B.call("count"));
  got.counts.A.push(await A.call("count"));

  got.fence = { A: await A.fence(), B: await B.fence() };
  const events = {};
  for (const client of [A, B]) {
    events[client.name] = client.log.map((entry) => entry.event).filter((e) => e !== "$connect");
  }
  run.finish({
    ids: { A: A.socket.id, B: B.socket.id },
    engines: { A: A.socket.io.engine.id, B: B.socket.io.engine.id },
    sent,
    got,
    events,
  });
});
