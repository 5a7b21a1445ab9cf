// The seed scenario with two socket.io-client clients: motd, "Roger that", exampleRoom,
// the room list, and client_disconnected seen by the other client with the right id.
// Usage: node seed.mjs <url> <websocket|polling|upgrade>; prints one JSON line.
import { io } from "socket.io-client";

const [url, mode] = process.argv.slice(2);
const transports = mode === "websocket" ? ["websocket"] : mode === "polling" ? ["polling"] : ["polling", "websocket"];
const fail = (message) => { console.error(message); process.exit(1); };
setTimeout(() => fail("timed out"), 30000).unref();

const once = (socket, event) => new Promise((resolve) => socket.once(event, resolve));

async function client() {
  const socket = io(url, { transports, forceNew: true, reconnection: false });
  const motd = once(socket, "motd");
  await once(socket, "connect");
  if (mode === "upgrade" && socket.io.engine.transport.name !== "websocket") {
    await once(socket.io.engine, "upgrade");
  }
  return { socket, motd: await motd };
}

const a = await client();
const b = await client();
if (a.motd !== "Welcome to my server!") fail(`unexpected motd ${a.motd}`);
if (b.motd !== a.motd) fail(`unexpected motd ${b.motd}`);

a.socket.emit("message", "hello from a");
const ack = await a.socket.timeout(5000).emitWithAck("important_message", "the building is on fire");

await a.socket.emitWithAck("join_room");
const joined = once(a.socket, "room_message");
await b.socket.emitWithAck("join_room");
if (!/joined/.test(await joined)) fail("a was not told b joined");
const heard = once(b.socket, "room_message");
a.socket.emit("room_message", "hi room");
if ((await heard) !== "hi room") fail("b did not hear the room");
const rooms = await a.socket.emitWithAck("list_rooms");

const disconnected = once(b.socket, "client_disconnected");
const aId = a.socket.id;
a.socket.disconnect();
const notice = await disconnected;
b.socket.disconnect();
console.log(JSON.stringify({ motd: a.motd, ack, rooms, aId, disconnected: notice, transport: b.socket.io.engine?.transport?.name }));
process.exit(0);
