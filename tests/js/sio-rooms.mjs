// Rooms and broadcasts between socket.io-client and the Sockeye server of
// crates/sockeye/tests/interop_rooms.rs:
//
//   node tests/js/sio-rooms.mjs <url> <websocket|polling|upgrade>
//
// A, B, C and D connect to `/`, E to `/other`, each on a connection of its own. Rooms:
// A in r1, B in r1 and r2, C in r2, D in none, E in r1 and r2 of `/other`. Each step asks the
// server (event `cmd`) for one operation, fences every client, and records what each received
// during the step (`got.steps[label]`), so the Rust test checks who received and who did not.
// See sio-lib.mjs.

import { Run, encode } from "./sio-lib.mjs";

const EVENTS = ["bcast", "ask", "direct"];

new Run("sio-rooms.mjs").go(async (run) => {
  const A = await run.connect("A");
  const B = await run.connect("B");
  const C = await run.connect("C");
  const D = await run.connect("D");
  const E = await run.connect("E", "/other");
  const clients = [A, B, C, D, E];
  const ids = Object.fromEntries(clients.map((client) => [client.name, client.socket.id]));
  // Everyone acknowledges `ask` but C, which stays silent.
  for (const client of [A, B, D, E]) {
    client.socket.on("ask", (label, ack) => ack({ from: client.name, label }));
  }
  C.socket.on("ask", () => {});

  const got = { joined: {}, steps: {} };
  got.joined.A = await A.call("join", ["r1"]);
  got.joined.B = await B.call("join", ["r1", "r2"]);
  got.joined.C = await C.call("join", ["r2"]);
  got.joined.D = await D.call("join", []);
  got.joined.E = await E.call("join", ["r1", "r2"]);

  async function fenceAll() {
    await Promise.all(clients.filter((c) => c.socket.connected).map((c) => c.fence()));
  }

  async function step(label, by, op, arg = {}) {
    run.startStep();
    const reply = await by.call("cmd", op, { label, ...arg });
    await fenceAll();
    const received = {};
    for (const client of clients) received[client.name] = client.since(EVENTS);
    got.steps[label] = { reply: encode(reply), received };
  }

  // Broadcast operators.
  await step("to r1", A, "to", { rooms: ["r1"] });
  await step("to r1 r2", A, "to", { rooms: ["r1", "r2"] });
  await step("except r1", A, "except", { rooms: ["r1"] });
  await step("to r2 except r1", A, "to_except", { to: ["r2"], except: ["r1"] });
  await step("A broadcast", A, "broadcast");
  await step("A to r1", A, "socket_to", { rooms: ["r1"] });
  await step("B to r1 r2", B, "socket_to", { rooms: ["r1", "r2"] });
  await step("A except r2", A, "socket_except", { rooms: ["r2"] });
  await step("local", A, "local");
  await step("emit", C, "emit");

  // Volatile: a client that is reading gets it (retried, as a volatile packet may be dropped
  // when one is already waiting to be written).
  got.volatile = { attempts: 0 };
  for (let attempt = 1; attempt <= 5; attempt++) {
    const label = `volatile ${attempt}`;
    await step(label, D, "volatile");
    got.volatile.attempts = attempt;
    if (got.steps[label].received.D.length > 0) break;
  }

  // A broadcast with acknowledgements: B answers, C stays silent.
  await step("ask r2", A, "ack", { rooms: ["r2"], timeout_ms: 1000 });

  // Listing rooms and fetching sockets.
  await step("room info", A, "room_info", { room: "r1" });
  await step("fetch", A, "fetch");
  await step("fetched ops", A, "fetched_ops");
  await step("to fetched-room", A, "to", { rooms: ["fetched-room"] });
  await step("to r2 after fetched leave", A, "to", { rooms: ["r2"] });

  // A leaves r1.
  got.leftA = await A.call("leave", ["r1"]);
  await step("to r1 after A left", B, "to", { rooms: ["r1"] });

  // Making sockets join and leave rooms from the server.
  await step("sockets_join everyone", A, "sockets_join", { rooms: ["everyone"] });
  await step("to everyone", A, "to", { rooms: ["everyone"] });
  await step("r2 join r2-plus", A, "join_op", { to: ["r2"], rooms: ["r2-plus"] });
  await step("to r2-plus", A, "to", { rooms: ["r2-plus"] });
  await step("sockets_leave everyone", A, "sockets_leave", { rooms: ["everyone"] });
  await step("to everyone after leave", A, "to", { rooms: ["everyone"] });

  // Disconnecting a fetched socket, then every socket of `/` (A does not wait for an ack it
  // cannot get once disconnected).
  got.transportsBefore = run.transports();
  await A.call("cmd", "fetched_disconnect", { label: "fetched disconnect D", name: "D" });
  got.disconnectD = (await D.waitFor("$disconnect"))[0];
  A.socket.emit("cmd", "disconnect_sockets", { label: "disconnect_sockets" });
  got.disconnect = {};
  for (const client of [A, B, C]) got.disconnect[client.name] = (await client.waitFor("$disconnect"))[0];
  got.EStillConnected = E.socket.connected;
  got.EFence = await E.fence();

  run.finish({
    got,
    ids,
  });
});
