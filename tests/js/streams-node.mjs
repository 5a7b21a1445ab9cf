// A Node node of a mixed cluster on one Redis stream: socket.io 4.8 with
// @socket.io/redis-streams-adapter and connection-state recovery, started by
// crates/redis/tests/streams_mixed.rs:
//
//   node tests/js/streams-node.mjs <redis url>
//
// It listens on a free loopback port and prints `{"port": N}` as its first line. A new socket
// joins room "r" and gets `socket.data = {user: "ann"}`, as the Sockeye nodes of the test do.
// The test drives it with one JSON command a line on stdin:
//   {"emit": name, "arg": value, "to": room?}  broadcasts (to everyone without `to`);
//   {"whois": id}                              prints {"whois": id, "rooms": [...], "data": ...}
//                                              (`rooms: null` when the socket is not here).

import { createServer } from "node:http";
import readline from "node:readline";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";

const url = process.argv[2];
const redis = createClient({ url });
// A client without an error listener throws; reconnection is the client's own business.
redis.on("error", () => {});
await redis.connect();

const httpServer = createServer();
const io = new Server(httpServer, {
  adapter: createAdapter(redis),
  connectionStateRecovery: { maxDisconnectionDuration: 30_000 },
  pingInterval: 300,
  pingTimeout: 300,
});

io.on("connection", (socket) => {
  if (!socket.recovered) {
    socket.join("r");
    socket.data = { user: "ann" };
  }
});

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const cmd = JSON.parse(line);
  if (cmd.emit) {
    (cmd.to ? io.to(cmd.to) : io).emit(cmd.emit, cmd.arg);
  } else if (cmd.whois) {
    const socket = io.of("/").sockets.get(cmd.whois);
    const rooms = socket ? [...socket.rooms] : null;
    console.log(JSON.stringify({ whois: cmd.whois, rooms, data: socket ? socket.data : null }));
  }
});

httpServer.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: httpServer.address().port }));
});
