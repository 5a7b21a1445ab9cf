// A Node node of a mixed cluster with Node's admin server: socket.io 4.8 on
// @socket.io/redis-adapter 8, instrumented by @socket.io/admin-ui in development mode with the
// server id "node-js", no log-in. Started by crates/admin/tests/cluster.rs:
//
//   node tests/js/admin-node.mjs <redis url>
//
// It listens on a free loopback port and prints `{"port": N}` as its first line. A socket that
// connects to `/` with `auth: {room}` joins that room.

import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { instrument } from "@socket.io/admin-ui";
import { createClient } from "redis";

const url = process.argv[2];
const pub = createClient({ url });
const sub = pub.duplicate();
pub.on("error", () => {});
sub.on("error", () => {});
await Promise.all([pub.connect(), sub.connect()]);

const httpServer = createServer();
const io = new Server(httpServer, { adapter: createAdapter(pub, sub, { requestsTimeout: 3000 }) });
instrument(io, { auth: false, mode: "development", serverId: "node-js" });
io.on("connection", (socket) => {
  if (typeof socket.handshake.auth.room === "string") socket.join(socket.handshake.auth.room);
});

httpServer.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: httpServer.address().port }));
});
