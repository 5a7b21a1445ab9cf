//! The demo pages, embedded in the binary, and the files of `--static DIR`.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

/// Stands for the Socket.IO path (`/socket.io/` by default) in the embedded files.
const PATH_PLACEHOLDER: &str = "__SOCKEYE_PATH__";

/// Stands for the client bundle the pages load, under the Socket.IO path.
const BUNDLE_PLACEHOLDER: &str = "__SOCKEYE_PATH__socket.io.js";

/// Stands for whether the server has a WebTransport endpoint (`on` or `off`) in demo.js.
const WEBTRANSPORT_PLACEHOLDER: &str = "__SOCKEYE_WEBTRANSPORT__";

/// The embedded files: URL path, content type, content.
const EMBEDDED: &[(&str, &str, &str)] = &[
    ("/", HTML, include_str!("../assets/index.html")),
    ("/index.html", HTML, include_str!("../assets/index.html")),
    ("/seed.html", HTML, include_str!("../assets/seed.html")),
    ("/chat.html", HTML, include_str!("../assets/chat.html")),
    ("/upload.html", HTML, include_str!("../assets/upload.html")),
    ("/binary.html", HTML, include_str!("../assets/binary.html")),
    ("/demo.css", CSS, include_str!("../assets/demo.css")),
    ("/demo.js", JS, include_str!("../assets/demo.js")),
    ("/sha256.js", JS, include_str!("../assets/sha256.js")),
];

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "application/javascript; charset=utf-8";

/// An embedded file, ready to serve.
#[derive(Debug, Clone)]
pub struct Page {
    /// Its URL path.
    pub route: &'static str,
    content_type: &'static str,
    body: Bytes,
}

impl Page {
    /// The response.
    pub fn respond(&self) -> Response<Body> {
        let mut response = Response::new(Body::from(self.body.clone()));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

/// The embedded pages, with the Socket.IO path put in, loading the client `bundle` (a file
/// name, under that path).
///
/// `webtransport` tells the pages whether the server has a WebTransport endpoint: they then
/// read its port and certificate hash from `/webtransport.json`.
pub fn pages_with(socket_path: &str, bundle: &str, webtransport: bool) -> Vec<Page> {
    let script = format!("{socket_path}{bundle}");
    let webtransport = if webtransport { "on" } else { "off" };
    EMBEDDED
        .iter()
        .map(|&(route, content_type, text)| Page {
            route,
            content_type,
            body: Bytes::from(
                text.replace(BUNDLE_PLACEHOLDER, &script)
                    .replace(PATH_PLACEHOLDER, socket_path)
                    .replace(WEBTRANSPORT_PLACEHOLDER, webtransport),
            ),
        })
        .collect()
}

/// Serves the file at URL path `url_path` from `root`: percent-decoded, `..` and hidden
/// segments refused, `index.html` for a folder.
pub async fn serve_static(root: &Path, url_path: &str) -> Response<Body> {
    static_file(root, url_path).await.unwrap_or_else(not_found)
}

/// The file at URL path `url_path` in `root`, or `None` when there is none (or the path is
/// refused): the demo pages ask this first, so that a user's own files win over them.
pub async fn static_file(root: &Path, url_path: &str) -> Option<Response<Body>> {
    let relative = safe_relative_path(url_path)?;
    let mut path = root.join(relative);
    if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_dir()) {
        path.push("index.html");
    }
    let content = tokio::fs::read(&path).await.ok()?;
    let mut response = Response::new(Body::from(content));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&path)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

/// The 404 page.
pub fn not_found() -> Response<Body> {
    let mut response = Response::new(Body::from("Not Found\n"));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The URL path as a path relative to the static folder, or `None` if it tries to leave it
/// or names a hidden file.
fn safe_relative_path(url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(url_path)?;
    let mut out = PathBuf::new();
    for segment in decoded.split('/') {
        if segment.is_empty() || segment == "." {
            continue;
        }
        if segment.starts_with('.') || segment.contains(['\\', '\0', ':']) {
            return None;
        }
        out.push(segment);
    }
    // One normal component after another: nothing absolute, nothing going up.
    out.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(out)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("html" | "htm") => HTML,
        Some("js" | "mjs") => JS,
        Some("css") => CSS,
        Some("json" | "map") => "application/json; charset=utf-8",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("wasm") => "application/wasm",
        Some("woff2") => "font/woff2",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_paths_stay_inside_the_folder() {
        assert_eq!(
            safe_relative_path("/a/b.html"),
            Some(PathBuf::from("a/b.html"))
        );
        assert_eq!(
            safe_relative_path("/my%20file.txt"),
            Some(PathBuf::from("my file.txt"))
        );
        assert_eq!(safe_relative_path("/"), Some(PathBuf::new()));
        for bad in [
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/secret",
            "/a/%2e%2e%2f%2e%2e/b",
            "/.git/config",
            "/a\\..\\b",
            "/%00",
            "/%zz",
        ] {
            assert_eq!(safe_relative_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn pages_get_the_socket_path() {
        let default = pages_with("/custom/", "socket.io.js", false);
        let seed = default
            .iter()
            .find(|p| p.route == "/seed.html")
            .expect("seed");
        let text = std::str::from_utf8(&seed.body).expect("utf-8");
        assert!(text.contains("/custom/socket.io.js"));
        assert!(!text.contains(PATH_PLACEHOLDER));

        let msgpack = pages_with("/custom/", "socket.io.msgpack.min.js", false);
        for page in msgpack.iter().filter(|p| p.route.ends_with(".html")) {
            let text = std::str::from_utf8(&page.body).expect("utf-8");
            assert!(!text.contains("/custom/socket.io.js"), "{}", page.route);
        }
        let chat = msgpack
            .iter()
            .find(|p| p.route == "/chat.html")
            .expect("chat");
        let text = std::str::from_utf8(&chat.body).expect("utf-8");
        assert!(text.contains(r#"<script src="/custom/socket.io.msgpack.min.js">"#));
    }
}
