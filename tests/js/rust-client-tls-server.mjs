// A socket.io 4.8 server over https for the Rust client's TLS tests (crates/client/tests/tls.rs):
// the PEM certificate and key come in the TLS_CERT and TLS_KEY environment variables. "important_message" is acknowledged with
// "Roger that", "whoami" with the transport. Listens on port 0 and prints {"port": N}.
import { createServer } from "node:https";
import { Server } from "socket.io";

const httpsServer = createServer({ cert: process.env.TLS_CERT, key: process.env.TLS_KEY });
const io = new Server(httpsServer);
io.on("connection", (socket) => {
  socket.on("important_message", (_message, ack) => ack("Roger that"));
  socket.on("whoami", (ack) => ack(socket.conn.transport.name));
});
httpsServer.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: httpsServer.address().port })));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
