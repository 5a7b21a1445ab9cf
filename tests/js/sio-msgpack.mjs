// npm socket.io-client with socket.io-msgpack-parser against the Sockeye server of
// crates/sockeye/tests/interop_msgpack.rs, which uses `Parser::MsgPack`:
//
//   node tests/js/sio-msgpack.mjs <url> <websocket|polling|upgrade>
//
// A and B connect to `/`, C to `/admin` with a good token; D's bad token and E's unknown
// namespace are refused. Events with JSON and binary both ways, acknowledgements both ways (with
// binary), a broadcast to a room (A and B in it, C in another namespace). Every packet is one
// MessagePack binary message: over polling, the client sends and receives them base64 with the
// `b` prefix. The script reports what each client got; the Rust test checks it. See sio-lib.mjs.

import parser from "socket.io-msgpack-parser";
import { Run, encode } from "./sio-lib.mjs";

new Run("sio-msgpack.mjs").go(async (run) => {
  const opts = { parser };
  const A = await run.connect("A", "/", opts);
  const B = await run.connect("B", "/", opts);
  const C = await run.connect("C", "/admin", { parser, auth: { token: "secret" } });
  const got = {};

  // Refusals: a middleware's message and data, and an unknown namespace.
  got.refused = {};
  for (const [name, nsp, token] of [["D", "/admin", "wrong"], ["E", "/nope", "x"]]) {
    try {
      await run.connect(name, nsp, { parser, auth: { token } });
      got.refused[name] = "connected";
    } catch (error) {
      const client = run.clients.find((c) => c.name === name);
      const [err] = client.find("$connect_error").raw;
      got.refused[name] = { message: err.message, data: encode(err.data) };
    }
  }

  // What the server sent on connection.
  got.welcome = (await A.waitFor("welcome")).map(encode);
  got.adminWelcome = (await C.waitFor("welcome")).map(encode);

  // Client -> server events with binary, answered by acknowledgements (raw and typed).
  const payload = [
    { text: "héllo 🌍", n: 42, neg: -7, big: 4294967296, pi: 3.25, ok: true, none: null },
    Buffer.from([0, 1, 2, 255]),
    { nested: [Buffer.from("deep"), "x".repeat(40)] },
  ];
  got.echo = encode(await A.call("echo", ...payload));
  got.sum = encode(await A.call("sum", 20, 22));
  got.adminEcho = encode(await C.call("echo", "admin", Buffer.from([9])));

  // Server -> client event with acknowledgement, the client answering with binary.
  A.socket.on("question", (text, bytes, ack) => {
    ack({ answer: `${text}!`, bytes: Buffer.concat([bytes, Buffer.from([7])]) });
  });
  got.asked = encode(await A.call("ask-me"));

  // A broadcast to a room: A and B are in it, C (another namespace) is not.
  got.joined = [await A.call("join", "room1"), await B.call("join", "room1")];
  await A.call("shout", "to room1", Buffer.from([1, 2, 3]));
  got.shoutA = (await A.waitFor("shouted")).map(encode);
  got.shoutB = (await B.waitFor("shouted")).map(encode);
  await C.fence();
  got.shoutC = C.all("shouted");

  // The server ends C's namespace socket: a DISCONNECT packet.
  await C.call("leave-me");
  got.disconnectC = (await C.waitFor("$disconnect")).map(encode);

  run.finish({ got });
});
