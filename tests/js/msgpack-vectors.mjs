// Prints the bytes npm socket.io-msgpack-parser writes for the packets that
// crates/socketio-proto/tests/msgpack.rs encodes and decodes, as hex, one `name hex` a line
// (`name length hex` of the first 40 bytes for packets over 1 000 bytes), into
// crates/socketio-proto/tests/msgpack_vectors.txt.
// The packets' keys are in the order Node's server sets them ({type, data, id, nsp}; an
// ack {id, type, data, nsp}). Run: node tests/js/msgpack-vectors.mjs > crates/socketio-proto/tests/msgpack_vectors.txt
import { Encoder } from "socket.io-msgpack-parser";

const encoder = new Encoder();
const numbers = [0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296,
  Number.MAX_SAFE_INTEGER, -1, -32, -33, -128, -129, -32768, -32769, -2147483648,
  -2147483649, -Number.MAX_SAFE_INTEGER, 1.5, -0.25, 1e-300, 0.1];
const strings = ["", "x".repeat(31), "x".repeat(32), "x".repeat(255), "x".repeat(256),
  "h\u00e9\u{1F600}"];
const many = Array.from({ length: 16 }, (_, i) => i);
const keys = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i]));
const packets = {
  numbers: { type: 2, data: ["n", ...numbers], nsp: "/" },
  strings: { type: 2, data: ["s", ...strings], nsp: "/" },
  scalars: { type: 2, data: ["v", true, false, null, [], {}], nsp: "/" },
  containers: { type: 2, data: ["c", many, keys, { b: 1, a: [2] }], nsp: "/" },
  event_with_id: { type: 2, data: ["chat", "hi"], id: 7, nsp: "/chat" },
  binary: { type: 2, data: ["bin", Buffer.from([1, 2, 3]), { deep: Buffer.alloc(300, 9) }], nsp: "/" },
  long_string: { type: 2, data: ["s", "x".repeat(65536)], nsp: "/" },
  big_binary: { type: 2, data: ["bin", Buffer.alloc(70000, 1)], nsp: "/" },
  ack: { id: 300, type: 3, data: [{ ok: true }], nsp: "/" },
  binary_ack: { id: 1, type: 3, data: [Buffer.from("ok")], nsp: "/files" },
  connect: { type: 0, data: { sid: "abc", pid: "p1" }, nsp: "/" },
  connect_error: { type: 4, data: { message: "Not authorized", data: { code: 42 } }, nsp: "/admin" },
  connect_error_no_data: { type: 4, data: { message: "Invalid namespace" }, nsp: "/nope" },
  disconnect: { type: 1, nsp: "/" },
  // What socket.io-client sends: `options` too, and no `data` when there is no auth.
  client_event: { type: 2, data: ["hello", 1], options: { compress: true }, id: 0, nsp: "/" },
  client_connect: { type: 0, nsp: "/admin" },
  client_connect_auth: { type: 0, data: { token: "abc" }, nsp: "/" },
};
for (const [name, packet] of Object.entries(packets)) {
  const [bytes] = encoder.encode(packet);
  const hex = Buffer.from(bytes).toString("hex");
  console.log(name, bytes.length > 1000 ? `${bytes.length} ${hex.slice(0, 80)}` : hex);
}
