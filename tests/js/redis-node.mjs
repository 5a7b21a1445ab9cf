// A Node node of a mixed cluster: socket.io 4.8 with @socket.io/redis-adapter 8 (or, with
// `streams`, @socket.io/redis-streams-adapter), started by the Rust tests in
// `crates/redis/tests/`:
//
//   node tests/js/redis-node.mjs <redis url> [streams]
//
// It listens on a free loopback port and prints `{"port": N}` as its first line. Its clients
// drive it with the acknowledged event `cmd (op, arg)`, which runs one server operation on
// this node and acknowledges its result, so the Rust test can make the Node node broadcast,
// join rooms or query the cluster as any Node application would.

import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";

const url = process.argv[2];
const streams = process.argv[3] === "streams";
const pub = createClient({ url });
const sub = pub.duplicate();
// A client without an error listener throws; reconnection is the client's own business.
pub.on("error", () => {});
sub.on("error", () => {});
await Promise.all([pub.connect(), streams ? Promise.resolve() : sub.connect()]);

const httpServer = createServer();
// The streams adapter has no requestsTimeout option: its requests wait 5 s.
const adapter = streams
  ? createStreamsAdapter(pub)
  : createAdapter(pub, sub, { requestsTimeout: 3000 });
const io = new Server(httpServer, { adapter });

/** Binary arguments travel in the commands as {"$bin": hex}. */
function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === "object") {
    if (typeof value.$bin === "string") return Buffer.from(value.$bin, "hex");
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  }
  return value;
}

/** A JSON-friendly copy: binary as {"$bin": hex}. */
function encode(value) {
  if (Buffer.isBuffer(value)) return { $bin: value.toString("hex") };
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("hex") };
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  }
  return value;
}

function target(arg) {
  let op = arg.nsp ? io.of(arg.nsp) : io;
  if (arg.to && arg.to.length) op = op.to(arg.to);
  if (arg.except && arg.except.length) op = op.except(arg.except);
  if (arg.local) op = op.local;
  return op;
}

io.on("serverSideEmit-test", (...args) => {
  const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
  if (ack) ack({ from: "node", got: encode(args) });
});

io.on("connection", (socket) => {
  socket.data = { kind: "node", n: 1 };
  socket.on("cmd", async (op, arg, ack) => {
    try {
      ack(await run(socket, op, arg || {}));
    } catch (error) {
      ack({ error: String(error && error.message ? error.message : error) });
    }
  });
});

async function run(socket, op, arg) {
  switch (op) {
    case "emit":
      target(arg).emit(arg.event, ...decode(arg.args || []));
      return true;
    case "broadcast":
      socket.broadcast.emit(arg.event, ...decode(arg.args || []));
      return true;
    case "join":
      socket.join(arg.room);
      return true;
    case "leave":
      socket.leave(arg.room);
      return true;
    case "rooms":
      return [...socket.rooms];
    case "serverCount":
      return await io.of(arg.nsp || "/").adapter.serverCount();
    case "allRooms":
      return [...(await io.of("/").adapter.allRooms())];
    case "fetchSockets": {
      const op = arg.timeout ? target(arg).timeout(arg.timeout) : target(arg);
      const sockets = await op.fetchSockets();
      return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data }));
    }
    case "socketsJoin":
      target(arg).socketsJoin(arg.rooms);
      return true;
    case "socketsLeave":
      target(arg).socketsLeave(arg.rooms);
      return true;
    case "disconnectSockets":
      target(arg).disconnectSockets(!!arg.close);
      return true;
    case "serverSideEmit":
      io.serverSideEmit(arg.event, ...decode(arg.args || []));
      return true;
    case "serverSideEmitWithAck": {
      const replies = await io.serverSideEmitWithAck(arg.event, ...decode(arg.args || []));
      return encode(replies);
    }
    case "emitWithAck": {
      const replies = await target(arg).timeout(arg.timeout || 3000).emitWithAck(arg.event, ...decode(arg.args || []));
      return encode(replies);
    }
    default:
      throw new Error(`unknown op ${op}`);
  }
}

httpServer.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: httpServer.address().port }));
});
