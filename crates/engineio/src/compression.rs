//! HTTP compression of long-polling responses, as Node's `httpCompression`: a body of at least
//! [`HttpCompression::threshold`] bytes goes out gzip- or deflate-encoded when the client's
//! `Accept-Encoding` takes it. Browsers always offer both; a long-polling client that receives
//! large messages then moves a fraction of the bytes.

use std::io::Write;

use bytes::Bytes;
use flate2::Compression;
use http::HeaderMap;
use http::header::{self, HeaderValue};

/// Bodies at least this large are compressed off the runtime's threads.
const BLOCKING_FROM: usize = 64 * 1024;

/// Compression of polling responses, in [`crate::EngineConfig::http_compression`].
///
/// ```
/// use sockeye_engineio::{EngineConfig, HttpCompression};
///
/// let config = EngineConfig::default().http_compression(Some(HttpCompression::default().threshold(4096)));
/// assert_eq!(config.http_compression.map(|c| c.threshold), Some(4096));
/// let off = EngineConfig::default().http_compression(None);
/// assert!(off.http_compression.is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpCompression {
    /// The smallest body compressed, in bytes. Default 1 024, as in Node.
    pub threshold: usize,
    /// The zlib level, 0 (none) to 9 (smallest). Default 6, zlib's default, as in Node.
    pub level: u32,
}

impl Default for HttpCompression {
    fn default() -> Self {
        HttpCompression {
            threshold: 1024,
            level: 6,
        }
    }
}

impl HttpCompression {
    /// Sets [`HttpCompression::threshold`].
    #[must_use]
    pub fn threshold(mut self, threshold: usize) -> Self {
        self.threshold = threshold;
        self
    }

    /// Sets [`HttpCompression::level`] (values above 9 mean 9).
    #[must_use]
    pub fn level(mut self, level: u32) -> Self {
        self.level = level.min(9);
        self
    }
}

/// A content coding both sides take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Gzip,
    Deflate,
}

impl Coding {
    fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        })
    }
}

/// How a response to this request is compressed, if at all.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Compress {
    coding: Coding,
    settings: HttpCompression,
}

impl Compress {
    /// The coding for a request with these headers, under `settings`.
    pub(crate) fn negotiate(
        settings: Option<HttpCompression>,
        headers: &HeaderMap,
    ) -> Option<Compress> {
        let settings = settings?;
        let coding = accepted(headers)?;
        Some(Compress { coding, settings })
    }

    /// Compresses `body` when it is large enough, and says so in `headers`. Should compression
    /// fail (it cannot, into memory), the body goes out as it is.
    pub(crate) async fn apply(self, body: Bytes, headers: &mut HeaderMap) -> Bytes {
        if body.len() < self.settings.threshold {
            return body;
        }
        let compressed = if body.len() >= BLOCKING_FROM {
            let input = body.clone();
            tokio::task::spawn_blocking(move || encode(&input, self.coding, self.settings.level))
                .await
                .ok()
                .flatten()
        } else {
            encode(&body, self.coding, self.settings.level)
        };
        match compressed {
            Some(compressed) => {
                headers.insert(header::CONTENT_ENCODING, self.coding.header());
                Bytes::from(compressed)
            }
            None => body,
        }
    }
}

fn encode(body: &[u8], coding: Coding, level: u32) -> Option<Vec<u8>> {
    let level = Compression::new(level);
    let out = Vec::with_capacity(body.len() / 4 + 64);
    match coding {
        Coding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(out, level);
            encoder.write_all(body).ok()?;
            encoder.finish().ok()
        }
        Coding::Deflate => {
            // HTTP's "deflate" is the zlib format (RFC 9110), which browsers and Node decode.
            let mut encoder = flate2::write::ZlibEncoder::new(out, level);
            encoder.write_all(body).ok()?;
            encoder.finish().ok()
        }
    }
}

/// The coding `Accept-Encoding` prefers among gzip and deflate: the highest `q`, gzip on a tie
/// (`*` stands for both); `q=0` refuses.
fn accepted(headers: &HeaderMap) -> Option<Coding> {
    let mut gzip: Option<f32> = None;
    let mut deflate: Option<f32> = None;
    let mut any: Option<f32> = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match name.as_str() {
                "gzip" | "x-gzip" => gzip = Some(q),
                "deflate" => deflate = Some(q),
                "*" => any = Some(q),
                _ => {}
            }
        }
    }
    let gzip = gzip.or(any).unwrap_or(0.0);
    let deflate = deflate.or(any).unwrap_or(0.0);
    if gzip <= 0.0 && deflate <= 0.0 {
        None
    } else if gzip >= deflate {
        Some(Coding::Gzip)
    } else {
        Some(Coding::Deflate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    #[test]
    fn accept_encoding_picks_the_preferred_coding() {
        assert_eq!(accepted(&HeaderMap::new()), None);
        assert_eq!(
            accepted(&with("gzip, deflate, br, zstd")),
            Some(Coding::Gzip)
        );
        assert_eq!(accepted(&with("deflate")), Some(Coding::Deflate));
        assert_eq!(
            accepted(&with("gzip;q=0.5, deflate")),
            Some(Coding::Deflate)
        );
        assert_eq!(accepted(&with("gzip;q=0, deflate;q=0")), None);
        assert_eq!(accepted(&with("br")), None);
        assert_eq!(accepted(&with("*")), Some(Coding::Gzip));
        assert_eq!(accepted(&with("*;q=0.1, gzip;q=0")), Some(Coding::Deflate));
        assert_eq!(accepted(&with("identity")), None);
    }
}
