// socket.io-client over TLS: `https` long-polling, `wss` WebSocket, or polling then an upgrade
// to `wss`, trusting only the given CA (a PEM file). Emits "important_message" to "/" and
// expects the seed demo's ack "Roger that".
// Usage: node tls.mjs <https-url> <polling|websocket|upgrade> <ca.pem>; prints one JSON line.
import fs from "node:fs";
import { io } from "socket.io-client";

const [url, mode, caPath] = process.argv.slice(2);
const fail = (message) => { console.error(message); process.exit(1); };
if (!url || !["polling", "websocket", "upgrade"].includes(mode) || !caPath) {
  fail("usage: node tls.mjs <https-url> <polling|websocket|upgrade> <ca.pem>");
}
setTimeout(() => fail("timed out"), 30000).unref();

const transports = mode === "websocket" ? ["websocket"] : mode === "polling" ? ["polling"] : ["polling", "websocket"];
const once = (emitter, event) => new Promise((resolve) => emitter.once(event, resolve));

const socket = io(url, {
  transports,
  upgrade: mode === "upgrade",
  forceNew: true,
  reconnection: false,
  ca: fs.readFileSync(caPath),
});
socket.on("connect_error", (error) => fail(`connect_error: ${error.message} ${error.description?.message ?? ""}`));
await once(socket, "connect");
if (mode === "upgrade" && socket.io.engine.transport.name !== "websocket") {
  await once(socket.io.engine, "upgrade");
}
const ack = await socket.timeout(5000).emitWithAck("important_message", "over TLS");
const transport = socket.io.engine.transport.name;
const id = socket.id;
socket.disconnect();
if (ack !== "Roger that") fail(`unexpected ack ${JSON.stringify(ack)}`);
console.log(JSON.stringify({ mode, transport, ack, id }));
process.exit(0);
