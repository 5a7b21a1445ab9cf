//! `sockeye serve --admin-ui`: the `/admin` namespace of `sockeye-admin` (in development mode,
//! so the UI shows every socket, room and event live) and the official UI's files at
//! `/admin/`.
//!
//! The files are the `ui/dist` folder of the npm package `@socket.io/admin-ui`, installed at
//! set-up time (`npm ci --prefix web`) and never committed, found as the client bundle is. The
//! UI is a single page with relative links and hash routes (`/admin/#/sockets`), so the folder
//! is served as it is.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::Path as UrlPath;
use axum::response::Redirect;
use axum::routing::get;
use sockeye::Io;
use sockeye_admin::{Admin, Mode};

use crate::assets;
use crate::client::{read_version, search_places};

/// Where the UI's files are, relative to a workspace (or to the current directory).
pub const UI_SUBDIR: &str = "web/node_modules/@socket.io/admin-ui/ui/dist";

/// The URL path of the UI (the namespace is `/admin` too, on the Socket.IO path).
pub const UI_PATH: &str = "/admin/";

/// How to get the UI, for the error when it is missing.
pub const HOW_TO_GET_IT: &str = "Install it with `npm ci --prefix web` in the Sockeye workspace \
     (scripts/run does it), or pass --admin-ui-dir DIR with the ui/dist folder of the npm \
     package @socket.io/admin-ui (0.5).";

/// What `--admin-ui` and its options ask for.
#[derive(Debug, Clone, Default)]
pub struct AdminUiConfig {
    /// `--admin-auth USER:BCRYPT_HASH`; no authentication when `None`.
    pub auth: Option<(String, String)>,
    /// `--admin-readonly`: the UI can look, not act.
    pub readonly: bool,
    /// `--admin-server-id`: the `serverId` of `server_stats`; `sockeye-admin`'s default (the
    /// host name, `hostname#pid` on a cluster adapter) when `None`.
    pub server_id: Option<String>,
    /// `--admin-ui-dir`: the `ui/dist` folder; searched for when `None`.
    pub dir: Option<PathBuf>,
}

/// The admin namespace attached to a server and the folder of the UI's files.
#[derive(Debug, Clone)]
pub struct AdminUi {
    /// The UI's files.
    pub dir: PathBuf,
    /// The npm package's version, when its package.json says.
    pub version: Option<String>,
    /// Kept for as long as the app: dropping it stops `server_stats`.
    _admin: Arc<Admin>,
}

/// Parses `--admin-auth`: `USER:HASH`, split at the first `:` (a bcrypt hash has none before
/// its `$2b$...`, and user names with one cannot be given).
pub fn parse_auth(text: &str) -> Result<(String, String), String> {
    let (user, hash) = text
        .split_once(':')
        .ok_or("expected USER:BCRYPT_HASH, e.g. admin:$2b$10$...")?;
    if user.is_empty() {
        return Err("the user name is empty".into());
    }
    // The whole hash is checked when the namespace is attached.
    if !hash.starts_with("$2") {
        return Err(
            "the password must be a bcrypt hash ($2a$/$2b$/$2y$), as `htpasswd -nbBC 10 USER PASSWORD` \
             or Node's bcryptjs make"
                .into(),
        );
    }
    Ok((user.to_owned(), hash.to_owned()))
}

/// The UI's folder: `dir` (an error if it holds no `index.html`), or the first of the usual
/// places that does.
pub fn locate(dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = dir {
        if !dir.join("index.html").is_file() {
            bail!(
                "--admin-ui-dir {}: no index.html there. {HOW_TO_GET_IT}",
                dir.display()
            );
        }
        return Ok(dir.to_owned());
    }
    let places = search_places(UI_SUBDIR);
    match places.iter().find(|p| p.join("index.html").is_file()) {
        Some(dir) => Ok(dir.clone()),
        None => {
            let looked_in: Vec<String> = places.iter().map(|p| p.display().to_string()).collect();
            bail!(
                "--admin-ui: the admin UI's files are missing (looked in {}). {HOW_TO_GET_IT}",
                looked_in.join(", ")
            )
        }
    }
}

/// Adds the admin namespace to `io` (needs a tokio runtime) and finds the UI's files.
pub fn attach(io: &Io, config: &AdminUiConfig) -> anyhow::Result<AdminUi> {
    let dir = locate(config.dir.as_deref())?;
    let mut builder = Admin::builder()
        .readonly(config.readonly)
        .mode(Mode::Development);
    if let Some((user, hash)) = &config.auth {
        builder = builder.auth(user.clone(), hash.clone());
    }
    if let Some(id) = &config.server_id {
        builder = builder.server_id(id.clone());
    }
    let admin = builder.attach(io).context("--admin-auth")?;
    let version = read_version(&dir.join("../../package.json"));
    Ok(AdminUi {
        dir: std::fs::canonicalize(&dir).unwrap_or(dir),
        version,
        _admin: Arc::new(admin),
    })
}

impl AdminUi {
    /// `routes` with the UI at `/admin/` (and `/admin` sent there).
    pub fn routes(&self, routes: Router) -> Router {
        let dir = Arc::new(self.dir.clone());
        let index = dir.clone();
        routes
            .route("/admin", get(|| async { Redirect::permanent(UI_PATH) }))
            .route(
                UI_PATH,
                get(move || {
                    let dir = index.clone();
                    async move { assets::serve_static(&dir, "/").await }
                }),
            )
            .route(
                "/admin/{*file}",
                get(move |UrlPath(file): UrlPath<String>| {
                    let dir = dir.clone();
                    async move { assets::serve_static(&dir, &file).await }
                }),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_is_a_user_and_a_bcrypt_hash() {
        // bcryptjs.hashSync("x", 4)
        let hash = "$2a$04$eAGkqjAs9orETJ7E60v6zu0FcvROqqFl9zQb8c4kRuo/9EyrDdPoG";
        assert_eq!(
            parse_auth(&format!("admin:{hash}")),
            Ok(("admin".to_owned(), hash.to_owned()))
        );
        assert!(parse_auth("admin").is_err());
        assert!(parse_auth(&format!(":{hash}")).is_err());
        assert!(parse_auth("admin:plain-password").is_err());
    }
}
