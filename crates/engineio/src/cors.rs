//! Cross-origin resource sharing, with the semantics of the npm `cors` package that Node's
//! engine.io uses, so a browser page served from another origin behaves the same against both.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderValue};

/// Which origins may talk to the server.
#[derive(Clone)]
#[non_exhaustive]
pub enum AllowOrigin {
    /// `Access-Control-Allow-Origin: *`.
    Any,
    /// Reflect the request's `Origin`, whatever it is.
    Mirror,
    /// Reflect the request's `Origin` when it is one of these (exact match, e.g.
    /// `https://example.com`).
    List(Vec<String>),
    /// Reflect the request's `Origin` when the function accepts it.
    Predicate(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

impl fmt::Debug for AllowOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowOrigin::Any => f.write_str("Any"),
            AllowOrigin::Mirror => f.write_str("Mirror"),
            AllowOrigin::List(list) => f.debug_tuple("List").field(list).finish(),
            AllowOrigin::Predicate(_) => f.write_str("Predicate(..)"),
        }
    }
}

/// CORS rules for the Engine.IO endpoint.
///
/// ```
/// use sockeye_engineio::{AllowOrigin, Cors};
///
/// let cors = Cors::new(AllowOrigin::List(vec!["https://example.com".into()])).credentials(true);
/// assert!(cors.credentials);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Cors {
    /// Accepted origins.
    pub origin: AllowOrigin,
    /// Send `Access-Control-Allow-Credentials: true` (cookies, HTTP auth).
    pub credentials: bool,
    /// Methods announced in preflight answers. Default `GET,HEAD,PUT,PATCH,POST,DELETE`.
    pub methods: String,
    /// Headers allowed in preflight answers; `None` reflects `Access-Control-Request-Headers`.
    pub allowed_headers: Option<String>,
    /// `Access-Control-Expose-Headers`, if any.
    pub exposed_headers: Option<String>,
    /// `Access-Control-Max-Age` of preflight answers, if any.
    pub max_age: Option<Duration>,
}

impl Cors {
    /// Rules that accept `origin`, with the `cors` package's defaults for the rest.
    pub fn new(origin: AllowOrigin) -> Self {
        Cors {
            origin,
            credentials: false,
            methods: "GET,HEAD,PUT,PATCH,POST,DELETE".to_owned(),
            allowed_headers: None,
            exposed_headers: None,
            max_age: None,
        }
    }

    /// Any origin (`*`).
    pub fn any() -> Self {
        Cors::new(AllowOrigin::Any)
    }

    /// Sets [`Cors::credentials`].
    #[must_use]
    pub fn credentials(mut self, credentials: bool) -> Self {
        self.credentials = credentials;
        self
    }

    /// Sets [`Cors::methods`].
    #[must_use]
    pub fn methods(mut self, methods: impl Into<String>) -> Self {
        self.methods = methods.into();
        self
    }

    /// Sets [`Cors::allowed_headers`].
    #[must_use]
    pub fn allowed_headers(mut self, headers: impl Into<String>) -> Self {
        self.allowed_headers = Some(headers.into());
        self
    }

    /// Sets [`Cors::exposed_headers`].
    #[must_use]
    pub fn exposed_headers(mut self, headers: impl Into<String>) -> Self {
        self.exposed_headers = Some(headers.into());
        self
    }

    /// Sets [`Cors::max_age`].
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Adds the headers of an ordinary (non-preflight) response.
    pub(crate) fn apply(&self, request: &HeaderMap, response: &mut HeaderMap) {
        self.apply_origin(request, response);
        if let Some(exposed) = self.exposed_headers.as_deref().and_then(value) {
            response.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed);
        }
    }

    /// Adds the headers of a preflight (`OPTIONS`) response.
    pub(crate) fn apply_preflight(&self, request: &HeaderMap, response: &mut HeaderMap) {
        self.apply_origin(request, response);
        if let Some(methods) = value(&self.methods) {
            response.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        match self.allowed_headers.as_deref() {
            Some(allowed) => {
                if let Some(allowed) = value(allowed) {
                    response.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allowed);
                }
            }
            None => {
                if let Some(asked) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
                    response.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
                    response.append(
                        header::VARY,
                        HeaderValue::from_static("Access-Control-Request-Headers"),
                    );
                }
            }
        }
        if let Some(max_age) = self.max_age {
            response.insert(header::ACCESS_CONTROL_MAX_AGE, max_age.as_secs().into());
        }
    }

    fn apply_origin(&self, request: &HeaderMap, response: &mut HeaderMap) {
        let origin = request.get(header::ORIGIN);
        let allowed = match (&self.origin, origin) {
            (AllowOrigin::Any, _) => Some(HeaderValue::from_static("*")),
            (_, None) => None,
            (AllowOrigin::Mirror, Some(origin)) => Some(origin.clone()),
            (AllowOrigin::List(list), Some(origin)) => list
                .iter()
                .any(|allowed| allowed.as_bytes() == origin.as_bytes())
                .then(|| origin.clone()),
            (AllowOrigin::Predicate(accepts), Some(origin)) => origin
                .to_str()
                .ok()
                .filter(|origin| accepts(origin))
                .map(|_| origin.clone()),
        };
        if !matches!(self.origin, AllowOrigin::Any) {
            response.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        if let Some(allowed) = allowed {
            response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        }
        if self.credentials {
            response.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

fn value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    #[test]
    fn any_origin_is_a_wildcard() {
        let mut response = HeaderMap::new();
        Cors::any().apply(&request(Some("http://a.test")), &mut response);
        assert_eq!(response[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }

    #[test]
    fn a_listed_origin_is_reflected_and_others_are_not() {
        let cors = Cors::new(AllowOrigin::List(vec!["http://a.test".into()])).credentials(true);
        let mut response = HeaderMap::new();
        cors.apply(&request(Some("http://a.test")), &mut response);
        assert_eq!(
            response[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://a.test"
        );
        assert_eq!(response[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        let mut response = HeaderMap::new();
        cors.apply(&request(Some("http://evil.test")), &mut response);
        assert!(response.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    }

    #[test]
    fn preflight_reflects_requested_headers() {
        let mut req = request(Some("http://a.test"));
        req.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("x-token"),
        );
        let mut response = HeaderMap::new();
        Cors::new(AllowOrigin::Mirror)
            .max_age(Duration::from_secs(60))
            .apply_preflight(&req, &mut response);
        assert_eq!(response[header::ACCESS_CONTROL_ALLOW_HEADERS], "x-token");
        assert_eq!(
            response[header::ACCESS_CONTROL_ALLOW_METHODS],
            "GET,HEAD,PUT,PATCH,POST,DELETE"
        );
        assert_eq!(response[header::ACCESS_CONTROL_MAX_AGE], "60");
        assert_eq!(
            response[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://a.test"
        );
    }
}
