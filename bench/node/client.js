// The client-benchmark driver for Node's socket.io-client (bench/run's client-echo and
// client-idle; see bench/README.md):
//
//     node client.js URL CLIENTS DURATION_S WARMUP_S [echo|burst|idle] [IN_FLIGHT]
//
// Connects CLIENTS clients (each its own Engine.IO connection over WebSocket: forceNew) in
// this one process; then each emits `echo` with a small payload and waits for the ack (10 s
// timeout), in a closed loop (echo), or in IN_FLIGHT closed loops at once (burst, 16 unless
// given); after the warm-up, acks and their latencies are counted for DURATION_S seconds.
// Prints one JSON line: acks, rate, p50/p99 latency (ms), rss_before, rss_connected and
// rss_per_client (bytes, process.memoryUsage().rss, i.e. VmRSS), rss_after and
// rss_after_per_client (after the warm-up's echoes, before latencies are recorded), and cpu_ns_per_ack (process.cpuUsage()
// over the measured seconds, per ack).
"use strict";
const { io } = require("socket.io-client");

const [url = "http://127.0.0.1:3000", clientsArg = "100", durationArg = "4", warmupArg = "0.5",
  mode = "echo", inFlightArg] = process.argv.slice(2);
const inFlight = Number(inFlightArg || (mode === "burst" ? 16 : 1));
const base = url.replace(/\/socket\.io\/?$/, "");
const clients = Number(clientsArg);
const duration = Number(durationArg);
const warmup = Number(warmupArg);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function connect() {
  return new Promise((resolve, reject) => {
    const socket = io(base, { transports: ["websocket"], forceNew: true, reconnection: false });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

function percentile(sorted, p) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.round((sorted.length - 1) * p))];
}

async function main() {
  if (global.gc) global.gc();
  const rssBefore = process.memoryUsage().rss;
  const sockets = [];
  for (let i = 0; i < clients; i++) sockets.push(await connect());
  const rssConnected = process.memoryUsage().rss;
  let phase = 0; // 0: warm-up, 1: measuring, 2: stop
  const all = [];
  let cpuStart = null;
  let cpu = { user: 0, system: 0 };
  let rssAfter = rssConnected;
  let stalled = 0; // loops that ended on an error (an ack timeout included)
  const loops = mode === "idle" ? [] : sockets.flatMap((s) => Array(inFlight).fill(s)).map(async (socket) => {
    while (phase < 2) {
      const start = process.hrtime.bigint();
      try {
        await socket.timeout(10000).emitWithAck("echo", { m: "hello" });
      } catch (e) {
        stalled++;
        return;
      }
      if (phase === 1) all.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  });
  if (loops.length) {
    await sleep(warmup * 1000);
    rssAfter = process.memoryUsage().rss;
    phase = 1;
    cpuStart = process.cpuUsage();
    await sleep(duration * 1000);
    phase = 2;
    cpu = process.cpuUsage(cpuStart);
    await Promise.allSettled(loops);
  }
  all.sort((a, b) => a - b);
  console.log(JSON.stringify({
    client: "node socket.io-client", clients, in_flight: inFlight, stalled, acks: all.length, rate: all.length / duration,
    p50_ms: percentile(all, 0.5), p99_ms: percentile(all, 0.99), rss_before: rssBefore,
    rss_connected: rssConnected, rss_per_client: (rssConnected - rssBefore) / Math.max(1, clients),
    rss_after: rssAfter, rss_after_per_client: (rssAfter - rssBefore) / Math.max(1, clients),
    cpu_ns_per_ack: ((cpu.user + cpu.system) * 1000) / Math.max(1, all.length),
  }));
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
