//! The official browser client, served at `<path>socket.io.js` and its siblings as Node's
//! `serveClient` does: an ETag made of the client's version (`If-None-Match` answers 304) and
//! `Cache-Control: public, max-age=0`.
//!
//! The files come from the npm package `socket.io-client` (its `dist/` folder), installed at
//! set-up time (`npm ci --prefix web`) and never committed. When it is missing, the server says
//! so at start and answers these URLs with a 404 that explains how to get it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use sha2::{Digest, Sha256};
use sockeye::Parser;

/// The files served, as Node's `serveClient` names them (the msgpack build too, which the demo
/// pages load under `--parser msgpack`).
pub const CLIENT_FILES: [&str; 8] = [
    "socket.io.js",
    "socket.io.js.map",
    "socket.io.min.js",
    "socket.io.min.js.map",
    "socket.io.esm.min.js",
    "socket.io.esm.min.js.map",
    "socket.io.msgpack.min.js",
    "socket.io.msgpack.min.js.map",
];

/// The bundle the demo pages load for a server with `parser`: the msgpack build's `io()`
/// uses `socket.io-msgpack-parser`.
pub fn bundle_for(parser: Parser) -> &'static str {
    match parser {
        Parser::MsgPack => "socket.io.msgpack.min.js",
        _ => "socket.io.js",
    }
}

/// Where the bundle is, relative to a workspace (or to the current directory).
pub const BUNDLE_SUBDIR: &str = "web/node_modules/socket.io-client/dist";

/// How to get the bundle, for logs and 404 bodies.
pub const HOW_TO_GET_IT: &str = "Install it with `npm ci --prefix web` in the Sockeye workspace \
     (scripts/run does it), or pass --client-dir DIR with the dist/ folder of the npm package \
     socket.io-client (4.x).";

/// `subdir` (of a workspace) under the current directory, under each folder above the
/// executable, and under the workspace this crate was built from: where the npm packages of
/// `web/` are looked for.
pub fn search_places(subdir: &str) -> Vec<PathBuf> {
    let mut places: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        places.push(cwd.join(subdir));
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            places.push(dir.join(subdir));
        }
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    places.push(built_from.join(subdir));
    let mut seen = std::collections::HashSet::new();
    places
        .into_iter()
        .map(|p| normalize(&p))
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

/// The client bundle, loaded in memory once, or the places it was looked for.
#[derive(Clone, Debug)]
pub struct ClientBundle(Arc<Bundle>);

#[derive(Debug)]
enum Bundle {
    Found {
        dir: PathBuf,
        version: Option<String>,
        etag: String,
        files: HashMap<&'static str, Bytes>,
    },
    Missing {
        looked_in: Vec<PathBuf>,
    },
}

impl ClientBundle {
    /// The folders searched when no `--client-dir` is given: `web/node_modules/socket.io-client/
    /// dist` under the current directory, under each folder above the executable (a workspace's
    /// `target/release/sockeye` finds its workspace), and under the workspace this crate was
    /// built from.
    pub fn default_locations() -> Vec<PathBuf> {
        search_places(BUNDLE_SUBDIR)
    }

    /// Loads the bundle from `client_dir` (an error if it does not hold `socket.io.js`), or
    /// from the first of [`ClientBundle::default_locations`] that does; when none does, a
    /// bundle that answers 404 with instructions.
    pub fn locate(client_dir: Option<&Path>) -> anyhow::Result<ClientBundle> {
        if let Some(dir) = client_dir {
            if !dir.join("socket.io.js").is_file() {
                bail!(
                    "--client-dir {}: no socket.io.js there. {HOW_TO_GET_IT}",
                    dir.display()
                );
            }
            return ClientBundle::load(dir);
        }
        let places = ClientBundle::default_locations();
        match places.iter().find(|p| p.join("socket.io.js").is_file()) {
            Some(dir) => ClientBundle::load(dir),
            None => Ok(ClientBundle(Arc::new(Bundle::Missing {
                looked_in: places,
            }))),
        }
    }

    /// Loads the files of a `socket.io-client` `dist/` folder.
    pub fn load(dir: &Path) -> anyhow::Result<ClientBundle> {
        let mut files = HashMap::new();
        for name in CLIENT_FILES {
            let path = dir.join(name);
            match std::fs::read(&path) {
                Ok(content) => {
                    files.insert(name, Bytes::from(content));
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(error).with_context(|| format!("reading {}", path.display()));
                }
            }
        }
        let main = files
            .get("socket.io.js")
            .with_context(|| format!("no socket.io.js in {}", dir.display()))?;
        let version = read_version(&dir.join("../package.json"));
        // Node's ETag is the version, quoted; without a package.json the content's hash does.
        let tag = match &version {
            Some(version) => version.clone(),
            None => sockeye_upload::to_hex(&Sha256::digest(main).into())[..16].to_owned(),
        };
        Ok(ClientBundle(Arc::new(Bundle::Found {
            dir: std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned()),
            version,
            etag: format!("\"{tag}\""),
            files,
        })))
    }

    /// Whether the bundle was found.
    pub fn is_found(&self) -> bool {
        matches!(*self.0, Bundle::Found { .. })
    }

    /// The folder it was loaded from.
    pub fn dir(&self) -> Option<&Path> {
        match &*self.0 {
            Bundle::Found { dir, .. } => Some(dir),
            Bundle::Missing { .. } => None,
        }
    }

    /// The client's version (from its `package.json`).
    pub fn version(&self) -> Option<&str> {
        match &*self.0 {
            Bundle::Found { version, .. } => version.as_deref(),
            Bundle::Missing { .. } => None,
        }
    }

    /// The folders searched in vain, when it is missing.
    pub fn looked_in(&self) -> &[PathBuf] {
        match &*self.0 {
            Bundle::Found { .. } => &[],
            Bundle::Missing { looked_in } => looked_in,
        }
    }

    /// Answers a request for `file` (one of [`CLIENT_FILES`]).
    pub fn respond(&self, file: &str, request_headers: &HeaderMap) -> Response<Body> {
        let Bundle::Found { etag, files, .. } = &*self.0 else {
            return text(
                StatusCode::NOT_FOUND,
                format!(
                    "The Socket.IO client bundle ({file}) is not installed on this server.\n\
                     {HOW_TO_GET_IT}\n"
                ),
            );
        };
        let Some(content) = files.get(file) else {
            return text(
                StatusCode::NOT_FOUND,
                format!("{file} is not in the bundle\n"),
            );
        };
        let etag_value = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"\""));
        let mut response = if if_none_match(request_headers, etag) {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response
        } else {
            let content_type = if file.ends_with(".map") {
                "application/json; charset=utf-8"
            } else {
                "application/javascript; charset=utf-8"
            };
            let mut response = Response::new(Body::from(content.clone()));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            response
        };
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=0"),
        );
        headers.insert(header::ETAG, etag_value);
        response
    }
}

/// Whether `If-None-Match` names the ETag, strong or weak (`W/"4.8.1"`), or is `*`.
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

pub(crate) fn read_version(package_json: &Path) -> Option<String> {
    let text = std::fs::read_to_string(package_json).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("version")?.as_str().map(str::to_owned)
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_dir() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dist = tmp.path().join("dist");
        std::fs::create_dir(&dist).expect("dist");
        std::fs::write(dist.join("socket.io.js"), "/* client */").expect("write");
        std::fs::write(dist.join("socket.io.js.map"), "{}").expect("write");
        std::fs::write(tmp.path().join("package.json"), r#"{"version":"4.8.9"}"#).expect("write");
        tmp
    }

    #[test]
    fn serves_with_etag_and_cache_control_and_answers_304() {
        let tmp = bundle_dir();
        let bundle = ClientBundle::load(&tmp.path().join("dist")).expect("load");
        assert_eq!(bundle.version(), Some("4.8.9"));
        let response = bundle.respond("socket.io.js", &HeaderMap::new());
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::ETAG], "\"4.8.9\"");
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "public, max-age=0"
        );
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/javascript; charset=utf-8"
        );
        let map = bundle.respond("socket.io.js.map", &HeaderMap::new());
        assert_eq!(
            map.headers()[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
        for tag in ["\"4.8.9\"", "W/\"4.8.9\"", "\"x\", \"4.8.9\"", "*"] {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static(tag));
            let response = bundle.respond("socket.io.js", &headers);
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{tag}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"4.8.8\""));
        assert_eq!(
            bundle.respond("socket.io.js", &headers).status(),
            StatusCode::OK
        );
        assert_eq!(
            bundle
                .respond("socket.io.min.js", &HeaderMap::new())
                .status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn a_missing_bundle_answers_404_with_instructions() {
        let bundle = ClientBundle(Arc::new(Bundle::Missing {
            looked_in: vec![PathBuf::from("/nowhere")],
        }));
        assert!(!bundle.is_found());
        let response = bundle.respond("socket.io.js", &HeaderMap::new());
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = futures_body(response);
        assert!(body.contains("npm ci --prefix web"), "{body}");
        assert!(body.contains("--client-dir"), "{body}");
    }

    fn futures_body(response: Response<Body>) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let bytes = runtime
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[test]
    fn a_wrong_client_dir_is_an_error() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let error = ClientBundle::locate(Some(tmp.path())).expect_err("no bundle");
        assert!(error.to_string().contains("npm ci --prefix web"), "{error}");
    }
}
