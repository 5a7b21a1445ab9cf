//! Whole HTTP requests to the Engine.IO service, from arbitrary paths, queries, methods, headers
//! and bodies: each gets an answer (an error status for garbage), never a panic.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use sockeye_engineio::{Cors, EngineConfig, EngineHandler, EngineService, Message, Socket};

struct Ignore;

impl EngineHandler for Ignore {
    fn on_message(&self, _: &Socket, _: Message) {}
}

fn service() -> &'static EngineService {
    static SERVICE: OnceLock<EngineService> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let config = EngineConfig::default()
            .path("/engine.io/")
            .allow_eio3(true)
            .cors(Cors::any())
            .ping_interval(Duration::from_millis(50))
            .ping_timeout(Duration::from_millis(50));
        EngineService::new(config, Ignore)
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    // Layout: method selector, then "uri \n header-name: value \n ... \n\n body".
    let Some((&method, rest)) = data.split_first() else { return };
    let methods = [Method::GET, Method::POST, Method::OPTIONS, Method::PUT];
    let method = methods[usize::from(method % 4)].clone();
    let text = String::from_utf8_lossy(rest);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let uri = format!("/engine.io/{}", lines.next().unwrap_or(""));
    let mut builder = Request::builder().method(method).uri(uri);
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            builder = builder.header(name.trim(), value.trim());
        }
    }
    let Ok(request) = builder.body(Full::new(Bytes::from(body.to_owned()))) else { return };
    runtime().block_on(async {
        let service = service();
        let response = tokio::time::timeout(Duration::from_millis(200), service.handle(request)).await;
        if let Ok(response) = response {
            assert!(response.status().as_u16() >= 100);
        }
        // Sessions the request opened end here, so memory stays flat across runs.
        service.close_all();
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
    });
});
