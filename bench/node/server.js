// The bench app contract with Node's socket.io: `PORT=3000 node server.js`.
// This process is the server (the harness measures its PID); default configuration.
// ADAPTER=redis://host:port: a node of a cluster on @socket.io/redis-adapter 8 (bench/run's
// cluster-fanout).
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.env.PORT || 3000);
const host = process.env.HOST || "127.0.0.1";

const httpServer = http.createServer();
// RECOVERY=1: connection-state recovery with its defaults (bench/run's fanout-recovery).
const recovery = process.env.RECOVERY === "1" ? { connectionStateRecovery: {} } : {};
// DEFLATE=BYTES: WebSocket permessage-deflate for messages of at least that many bytes (bench/run's
// echo-deflate); ws's other defaults (zlib level 6, context takeover).
const deflate = process.env.DEFLATE
  ? { perMessageDeflate: { threshold: Number(process.env.DEFLATE) } }
  : {};
const io = new Server(httpServer, { transports: ["polling", "websocket"], ...recovery, ...deflate });

async function useRedis(url) {
  const { createAdapter } = require("@socket.io/redis-adapter");
  const { createClient } = require("redis");
  const pub = createClient({ url });
  const sub = pub.duplicate();
  // Without an error listener a client throws; the bench fails on the lost deliveries instead.
  pub.on("error", () => {});
  sub.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub));
}

io.on("connection", (socket) => {
  socket.on("echo", (arg, ack) => {
    if (typeof ack === "function") ack(arg);
  });
  socket.on("join", (room, ack) => {
    socket.join(String(room));
    if (typeof ack === "function") ack();
  });
  socket.on("fanout", (msg, ack) => {
    if (msg && typeof msg.room === "string") io.to(msg.room).emit("fan", msg.payload);
    if (typeof ack === "function") ack();
  });
});

// The port opens only once the adapter is in place: the harness waits for it.
(process.env.ADAPTER ? useRedis(process.env.ADAPTER) : Promise.resolve()).then(() => {
  httpServer.listen(port, host, () => {
    console.log(`node socket.io ${require("socket.io/package.json").version} on ${host}:${port}`);
  });
}, (error) => {
  console.error(error);
  process.exit(1);
});
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
