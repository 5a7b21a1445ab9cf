//! The `sockeye` command line, as a library so that tests run the same server in-process.
//!
//! `sockeye serve` runs the demo app ([`demo`]) on the in-memory adapter, serves the official
//! browser client ([`client`]) and the demo pages, and optionally a folder of static files.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! let config = sockeye_cli::serve::Config { port: 0, ..Default::default() };
//! let app = sockeye_cli::serve::app(&config)?;
//! let listener = sockeye::bind("127.0.0.1:0".parse()?).await?;
//! sockeye::serve(listener, app.router, std::future::pending()).await?;
//! # Ok(())
//! # }
//! ```

pub mod admin_ui;
mod assets;
pub mod client;
pub mod demo;
pub mod metrics;
pub mod serve;
pub mod tls;
pub mod webtransport;
