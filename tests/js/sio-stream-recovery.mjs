// One socket.io-client that records numbered events across a lost connection, for
// crates/redis/tests/streams_recovery.rs:
//
//   node tests/js/sio-stream-recovery.mjs <url> <websocket|polling>
//
// The Rust test owns everything else: the cluster, the TCP proxy the client goes through (it
// cuts the connection and sends the client to another node), and what is emitted. This side
// prints one JSON line per connect (`{"event":"connect","id":..,"recovered":..}`) and, on the
// event `done`, one line with what it received: the numbers of `n` events in order, how many
// `x` events (never meant for it) came, and its ids. It exits 1 after 60 s without `done`.

import { io } from "socket.io-client";

const [url, mode = "websocket"] = process.argv.slice(2);
const socket = io(url, {
  transports: [mode],
  reconnectionDelay: 100,
  reconnectionDelayMax: 300,
  randomizationFactor: 0,
});
const got = { ids: [], recovered: [], n: [], offsets: 0, x: 0 };
const print = (line) => console.log(JSON.stringify(line));

socket.on("connect", () => {
  got.ids.push(socket.id);
  got.recovered.push(socket.recovered);
  print({ event: "connect", id: socket.id, recovered: socket.recovered });
});
socket.on("n", (i, offset) => {
  got.n.push(i);
  if (typeof offset === "string") got.offsets += 1;
});
socket.on("x", () => {
  got.x += 1;
});
socket.on("done", () => {
  print({ event: "done", ...got });
  process.exit(0);
});
setTimeout(() => {
  print({ event: "timeout", ...got });
  process.exit(1);
}, 60_000);
