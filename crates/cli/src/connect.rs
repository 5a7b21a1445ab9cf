//! `sockeye connect URL`: a Socket.IO client on the terminal. Received events and lifecycle
//! changes go to standard output as JSON lines; each line typed on standard input,
//! `event [json args]`, is emitted (a JSON array is several arguments).

use std::time::Duration;

use serde_json::{Value, json};
use sockeye_client::{Client, Event, Lifecycle, Transports};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    /// The server, e.g. http://localhost:8080.
    url: String,

    /// The namespace.
    #[arg(long, default_value = "/")]
    ns: String,

    /// The auth payload of the namespace CONNECT, as JSON.
    #[arg(long, value_name = "JSON")]
    auth: Option<String>,

    /// polling, websocket, or upgrade (polling then websocket).
    #[arg(long, default_value = "upgrade")]
    transport: String,

    /// The server's Engine.IO path.
    #[arg(long, default_value = "/socket.io/")]
    path: String,

    /// The server's packet codec: default or msgpack (socket.io-msgpack-parser).
    #[arg(long, value_name = "PARSER", default_value = "default")]
    parser: sockeye::Parser,
}

fn print(line: &Value) {
    println!("{line}");
}

pub async fn run(args: ConnectArgs) -> std::process::ExitCode {
    match connect(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sockeye connect: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn connect(args: ConnectArgs) -> anyhow::Result<()> {
    let transports = match args.transport.as_str() {
        "polling" => Transports::Polling,
        "websocket" => Transports::WebSocket,
        "upgrade" => Transports::PollingThenUpgrade,
        other => anyhow::bail!("unknown transport {other:?} (polling, websocket or upgrade)"),
    };
    let mut builder = Client::builder(&args.url)
        .transports(transports)
        .path(&args.path)
        .parser(args.parser);
    if let Some(auth) = &args.auth {
        let auth =
            serde_json::from_str(auth).map_err(|e| anyhow::anyhow!("--auth is not JSON: {e}"))?;
        builder = builder.auth(auth);
    }
    let client = builder.build()?;
    let mut lifecycle = client.lifecycle();
    let socket = client.socket(&args.ns);
    socket.on_any(|event: &Event| {
        print(&json!({"event": event.name(), "args": event.values()}));
    });
    socket.connect();
    tokio::spawn(async move {
        while let Some(event) = lifecycle.recv().await {
            let line = match event {
                Lifecycle::Connect {
                    namespace,
                    recovered,
                } => {
                    json!({"lifecycle": "connect", "namespace": namespace, "recovered": recovered})
                }
                Lifecycle::ConnectError {
                    namespace,
                    message,
                    data,
                } => json!({
                    "lifecycle": "connect_error", "namespace": namespace,
                    "message": message, "data": data,
                }),
                Lifecycle::Disconnect { namespace, reason } => json!({
                    "lifecycle": "disconnect", "namespace": namespace, "reason": reason.as_str(),
                }),
                Lifecycle::ReconnectAttempt(n) => {
                    json!({"lifecycle": "reconnect_attempt", "attempt": n})
                }
                Lifecycle::Reconnect(n) => json!({"lifecycle": "reconnect", "attempt": n}),
                Lifecycle::ReconnectError(error) => {
                    json!({"lifecycle": "reconnect_error", "error": error})
                }
                Lifecycle::ReconnectFailed => json!({"lifecycle": "reconnect_failed"}),
                other => json!({"lifecycle": format!("{other:?}")}),
            };
            print(&line);
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (event, rest) = line.split_once(' ').unwrap_or((line, ""));
        let data: Value = if rest.trim().is_empty() {
            Value::Array(Vec::new())
        } else {
            match serde_json::from_str(rest) {
                Ok(value) => value,
                Err(error) => {
                    eprintln!("not JSON: {error}");
                    continue;
                }
            }
        };
        // A JSON array is the argument list, anything else one argument.
        let args = match data {
            Value::Array(items) => items,
            other => vec![other],
        };
        if let Err(error) = socket.emit(event, &sockeye_client_args(args)) {
            eprintln!("cannot emit: {error}");
        }
    }
    socket.disconnect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}

/// Arguments as a tuple-like value: serialised as a sequence, which a client emit of a
/// `Vec` would send as one argument; so wrap it in a type that serialises as a tuple.
fn sockeye_client_args(args: Vec<Value>) -> SpreadArgs {
    SpreadArgs(args)
}

struct SpreadArgs(Vec<Value>);

impl serde::Serialize for SpreadArgs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for item in &self.0 {
            tuple.serialize_element(item)?;
        }
        tuple.end()
    }
}
