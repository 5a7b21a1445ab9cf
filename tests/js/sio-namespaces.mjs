// Namespaces between socket.io-client and the Sockeye server of
// crates/sockeye/tests/interop_namespaces.rs:
//
//   node tests/js/sio-namespaces.mjs <url> <websocket|polling|upgrade>
//
// - M multiplexes `/`, the static `/admin` and the dynamic `/dyn-1` on one Manager (one
//   Engine.IO session), with an auth payload on each CONNECT;
// - R is refused by the middleware of `/admin` (connect_error with message and data) on a
//   connection whose `/` stays usable; L is refused by the middleware of the dynamic namespaces;
// - U asks for a namespace that does not exist (connect_error "Invalid namespace");
// - D1 joins `/dyn-1` and D2 `/dyn-2` on connections of their own: a namespace broadcast reaches
//   only its own namespace, not even the other namespaces of the same connection.
// See sio-lib.mjs.

import { Run, encode } from "./sio-lib.mjs";

async function refusal(client) {
  const [error] = await client.waitFor("$connect_error");
  return { message: error.message, data: encode(error.data), connected: client.socket.connected };
}

new Run("sio-namespaces.mjs").go(async (run) => {
  const got = {};

  // One connection, three namespaces.
  const manager = run.manager("M");
  const rootAuth = { token: "t", nested: { list: [1, "two", null], unicode: "ü 日本 🚀" } };
  const M = run.socket(manager, "M", "/", rootAuth);
  const Madmin = run.socket(manager, "M", "/admin", { token: "secret" });
  const Mdyn = run.socket(manager, "M", "/dyn-1");
  await Promise.all([M.connected(), Madmin.connected(), Mdyn.connected()]);
  await run.upgraded(manager);
  got.M = {
    engine: manager.engine.id,
    ids: { "/": M.socket.id, "/admin": Madmin.socket.id, "/dyn-1": Mdyn.socket.id },
    whoami: {
      "/": await M.call("whoami"),
      "/admin": await Madmin.call("whoami"),
      "/dyn-1": await Mdyn.call("whoami"),
    },
  };
  // An event handled on /admin only: on / nobody answers.
  got.adminOnly = {
    admin: await Madmin.call("admin-only", "from admin"),
    root: await M.socket
      .timeout(500)
      .emitWithAck("admin-only", "from root")
      .then((value) => ({ acked: encode(value) }), (error) => ({ error: error.message })),
  };

  // A middleware refusal, with message and data; the connection's `/` still works.
  const refusedManager = run.manager("R");
  const R = run.socket(refusedManager, "R", "/");
  await R.connected();
  const Radmin = run.socket(refusedManager, "R", "/admin", { token: "wrong" });
  got.refused = await refusal(Radmin);
  await run.upgraded(refusedManager);
  got.refusedRootFence = await R.fence();

  // The dynamic namespaces' middleware refuses /dyn-locked.
  const lockedManager = run.manager("L");
  const L = run.socket(lockedManager, "L", "/dyn-locked");
  // (A client closes a connection whose only namespace is refused.)
  got.locked = await refusal(L);

  // A namespace that does not exist.
  const unknownManager = run.manager("U");
  const U = run.socket(unknownManager, "U", "/nope");
  got.unknown = await refusal(U);

  // Dynamic namespaces: a broadcast on /dyn-1 reaches /dyn-1 only.
  const D1 = await run.connect("D1", "/dyn-1");
  const D2 = await run.connect("D2", "/dyn-2");
  got.whoamiD2 = await D2.call("whoami");
  run.startStep();
  got.nsBroadcast = await Mdyn.call("ns-broadcast", "hello dyn-1");
  await Promise.all([M, Madmin, Mdyn, R, D1, D2].map((client) => client.fence()));
  got.nsNews = {};
  for (const client of [M, Madmin, Mdyn, R, D1, D2]) {
    got.nsNews[client.label] = client.since(["ns-news"]);
  }
  got.namespaces = await M.call("namespaces");

  run.finish({
    got,
    engines: { R: refusedManager.engine.id, D1: D1.socket.io.engine.id, D2: D2.socket.io.engine.id },
    ids: { R: R.socket.id, D1: D1.socket.id, D2: D2.socket.id },
    connected: Object.fromEntries(run.clients.map((client) => [client.label, client.socket.connected])),
  });
});
