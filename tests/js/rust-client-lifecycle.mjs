// A socket.io 4.8 server for the Rust client's lifecycle and retry tests
// (crates/client/tests/lifecycle.rs). Pings every 300 ms and gives up after 200 ms, so that a
// silent server is noticed quickly. Listens on port 0, prints {"port": N}, then
// {"handshake": n} for each Engine.IO connection it accepts, and {"disconnect": reason} for
// each socket of the main namespace that disconnects.
//
// "kick_me": the server disconnects the socket. "drop_me": it closes the connection under it.
// "retry" (key, ignored, ack): the first `ignored` tries of `key` get no acknowledgement; the
// next is acknowledged with {tries, ids, log}: how many tries of `key` came, under which ack
// ids (read off the wire), and every "retry" key in the order it arrived.
import { createServer } from "node:http";
import { Server } from "socket.io";

const httpServer = createServer();
const io = new Server(httpServer, { pingInterval: 300, pingTimeout: 200 });
let handshakes = 0;
io.engine.on("connection", () => {
  handshakes += 1;
  console.log(JSON.stringify({ handshake: handshakes }));
});
const tries = new Map();
const ids = new Map();
const log = [];
io.on("connection", (socket) => {
  socket.conn.on("packet", ({ type, data }) => {
    // A Socket.IO EVENT with an ack id on the main namespace: 2<id>["retry","<key>",...]
    const match = type === "message" && typeof data === "string" && /^2(\d+)\["retry","([^"]*)"/.exec(data);
    if (match) ids.set(match[2], [...(ids.get(match[2]) ?? []), Number(match[1])]);
  });
  socket.on("disconnect", (reason) => console.log(JSON.stringify({ disconnect: reason })));
  socket.on("kick_me", () => socket.disconnect());
  socket.on("drop_me", () => socket.conn.close());
  socket.on("retry", (key, ignored, ack) => {
    log.push(key);
    const n = (tries.get(key) ?? 0) + 1;
    tries.set(key, n);
    if (n > ignored) ack({ tries: n, ids: ids.get(key) ?? [], log });
  });
});
httpServer.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: httpServer.address().port })));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
