// Connection-state recovery between socket.io-client and the Sockeye server of
// crates/sockeye/tests/interop_recovery.rs:
//
//   node tests/js/sio-recovery.mjs <url> <websocket|polling|upgrade>
//
// A joins room "r" and gets a first event; its connection is then cut (`engine.close()`, as a
// lost network does), and while it is away B makes the server emit to the room, to everyone, to
// A's id, to another room, to everyone but the room, and a volatile event. A reconnects by itself
// and the script reports whether it was recovered, its ids, what it received after coming back,
// and what the server says of it (rooms, data). The Rust test decides what is right: the server
// of one test keeps sessions long enough, the other does not. See sio-lib.mjs.

import { Run } from "./sio-lib.mjs";

new Run("sio-recovery.mjs").go(async (run) => {
  const reconnect = { reconnection: true, reconnectionDelay: 1000, randomizationFactor: 0 };
  const A = await run.connect("A", "/", reconnect);
  const B = await run.connect("B");
  const got = { firstId: A.socket.id, firstRecovered: A.socket.recovered };
  await A.call("join");
  await A.waitFor("tick", (n) => n === 1);
  await A.fence();

  // The connection is lost; the server goes on emitting.
  run.startStep();
  const connects = A.all("$connect").length;
  A.socket.io.engine.close();
  await A.waitFor("$disconnect");
  got.disconnectReason = A.all("$disconnect").at(-1)[0];
  got.burst = await B.call("burst", got.firstId);

  // A comes back by itself.
  await A.waitFor("$connect", () => A.all("$connect").length > connects);
  await run.upgraded(A.socket.io);
  got.secondId = A.socket.id;
  got.recovered = A.socket.recovered;
  await A.fence();
  got.missed = A.since(["tick", "all", "direct"]);
  got.whoami = await A.call("whoami");

  // After coming back, the room still reaches A (when its rooms were recovered).
  run.startStep();
  await B.call("room", 4);
  await B.fence();
  await A.fence();
  got.after = A.since(["tick"]);
  run.finish(got);
});
