// A socket.io 4.8 server for the Rust client's interop tests (crates/client/tests/node.rs):
// motd on connection, "echo" answered with "echoed", "important_message" acknowledged with
// "Roger that", "binary" acknowledged with [name, length, Buffer], "/admin" greets with
// "hello_admin" and disconnects on "kick_me"; "whoami" is acknowledged with the socket id, Engine.IO session id and transport,
// "echo_ack" with its own arguments, "handshake" with the query parameters named and a header, "ask_binary" with the client's ack to "give_binary"; "stream" emits numbered events and cuts the connection
// under them; connection-state recovery on. Listens on port 0 and prints {"port": N}.
// `node rust-client-server.mjs msgpack` uses socket.io-msgpack-parser.
import { createServer } from "node:http";
import { Server } from "socket.io";
import msgpackParser from "socket.io-msgpack-parser";

const refuse = (socket, next) => {
  if (socket.handshake.auth?.token === "good") return next();
  const error = new Error("not authorized");
  error.data = { token: socket.handshake.auth?.token ?? null };
  next(error);
};
const httpServer = createServer();
const io = new Server(httpServer, {
  connectionStateRecovery: { maxDisconnectionDuration: 60000 },
  ...(process.argv[2] === "msgpack" ? { parser: msgpackParser } : {}),
});
const whoami = (socket) => (ack) => ack({ id: socket.id, sid: socket.conn.id, transport: socket.conn.transport.name });
io.on("connection", (socket) => {
  socket.emit("motd", "Welcome to my server!");
  socket.on("whoami", whoami(socket));
  socket.on("echo_ack", (...args) => args.pop()(...args));
  socket.on("handshake", (names, ack) =>
    ack({
      query: Object.fromEntries(names.map((n) => [n, socket.handshake.query[n] ?? null])),
      header: socket.handshake.headers["x-sockeye-test"] ?? null,
    }),
  );
  // Asks the client for binary with an ack, and acknowledges with what it answered.
  socket.on("ask_binary", async (ack) => ack(await socket.timeout(5000).emitWithAck("give_binary", "please")));
  // Emits 1..=count every `every` ms, closing the transport after `cutAt`: with recovery the
  // stale socket's emits are kept, and the client gets every number once it is back.
  socket.on("stream", (count, every, cutAt) => {
    let n = 0;
    const timer = setInterval(() => {
      n += 1;
      socket.emit("n", n);
      if (n === cutAt) socket.conn.close();
      if (n >= count) clearInterval(timer);
    }, every);
  });
  socket.on("echo", (value) => socket.emit("echoed", value));
  socket.on("important_message", (_message, ack) => ack("Roger that"));
  socket.on("binary", (name, data, ack) => ack(name, data.length, Buffer.from([9, 8, 7])));
  // Closes the transport under the socket, which then reconnects and recovers its session.
  socket.on("drop_me", () => socket.conn.close());
  socket.on("ask_me", async () => {
    const reply = await socket.timeout(5000).emitWithAck("question", "who?");
    socket.emit("answer_was", reply);
  });
});
io.of("/private").use(refuse).on("connection", (socket) => {
  socket.on("drop_me", () => socket.conn.close());
  socket.emit("auth_was", socket.handshake.auth);
});
io.of("/admin").on("connection", (socket) => {
  socket.on("whoami", whoami(socket));
  socket.on("kick_me", () => socket.disconnect());
  socket.emit("hello_admin", "admin here");
});
httpServer.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: httpServer.address().port })));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
