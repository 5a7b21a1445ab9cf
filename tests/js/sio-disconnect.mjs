// Disconnections between socket.io-client and the Sockeye server of
// crates/sockeye/tests/interop_disconnect.rs:
//
//   node tests/js/sio-disconnect.mjs <url> <websocket|polling|upgrade>
//
// X, Y, Z and W each have one connection (a Manager) with `/` and `/admin` on it:
// - X leaves `/admin` (`socket.disconnect()`); its `/` goes on;
// - the server disconnects Y's `/` (`disconnect(false)`); its `/admin` goes on;
// - the server disconnects Z's `/admin` with `disconnect(true)`: the whole connection closes;
// - W closes its connection (`socket.io.engine.close()`) while the server waits for an ack.
// V stays connected: after printing its result the script waits for the test to kill it.
// See sio-lib.mjs.

import { Run, within } from "./sio-lib.mjs";

new Run("sio-disconnect.mjs").go(async (run) => {
  async function pair(name) {
    const manager = run.manager(name);
    const root = run.socket(manager, name, "/");
    const admin = run.socket(manager, name, "/admin");
    await Promise.all([root.connected(), admin.connected()]);
    await run.upgraded(manager);
    const ids = { "/": root.socket.id, "/admin": admin.socket.id };
    return { manager, root, admin, engine: manager.engine.id, ids };
  }
  const X = await pair("X");
  const Y = await pair("Y");
  const Z = await pair("Z");
  const W = await pair("W");
  const V = await run.connect("V");
  const got = {};
  // V's last exchange comes early: when the process is killed, a polling V has long had its
  // next GET waiting on the server, so the server sees it cancelled.
  got.VFence = await V.fence();

  // The client leaves one namespace.
  X.admin.socket.disconnect();
  got.X = {
    admin: (await X.admin.waitFor("$disconnect"))[0],
    rootFence: await X.root.fence(),
    engine: X.manager.engine.readyState,
  };

  // The server disconnects one namespace.
  Y.root.socket.emit("kick", false);
  got.Y = {
    root: (await Y.root.waitFor("$disconnect"))[0],
    adminFence: await Y.admin.fence(),
    engine: Y.manager.engine.readyState,
  };

  // The server disconnects one namespace and closes the connection.
  const zClosed = new Promise((resolve) => Z.manager.engine.once("close", resolve));
  Z.admin.socket.emit("kick", true);
  got.Z = {
    root: (await Z.root.waitFor("$disconnect"))[0],
    admin: (await Z.admin.waitFor("$disconnect"))[0],
  };
  // (Which side closes the transport first races: the client closes a connection whose
  // namespaces are all gone.)
  got.Z.engineClose = await within(zClosed, "the close of Z's connection");

  // The client closes its connection while the server waits for its acknowledgement.
  await W.root.call("start-pending");
  await W.root.waitFor("never");
  W.manager.engine.close();
  got.W = {
    root: (await W.root.waitFor("$disconnect"))[0],
    admin: (await W.admin.waitFor("$disconnect"))[0],
  };

  const sessions = {};
  for (const [name, pair] of Object.entries({ X, Y, Z, W })) {
    sessions[name] = { engine: pair.engine, ids: pair.ids };
  }
  sessions.V = { engine: V.socket.io.engine.id, ids: { "/": V.socket.id } };
  run.finish({ got, sessions }, { awaitKill: true });
});
