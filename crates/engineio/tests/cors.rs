//! Cross-origin requests: preflight answers, reflected origins, credentials, and no CORS
//! headers when CORS is not configured.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use sockeye_engineio::{AllowOrigin, Cors};

const ALLOWED: &str = "http://allowed.test";

fn listed() -> Cors {
    Cors::new(AllowOrigin::List(vec![
        ALLOWED.to_owned(),
        "https://other.test".to_owned(),
    ]))
    .credentials(true)
}

fn with_origin(method: Method, path: &str, origin: &str) -> Request<Full<bytes::Bytes>> {
    let mut request = request(method, path, "");
    request
        .headers_mut()
        .insert(header::ORIGIN, origin.parse().unwrap());
    request
}

fn preflight(path: &str, origin: &str) -> Request<Full<bytes::Bytes>> {
    let mut request = with_origin(Method::OPTIONS, path, origin);
    let headers = request.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_REQUEST_METHOD,
        "POST".parse().unwrap(),
    );
    headers.insert(
        header::ACCESS_CONTROL_REQUEST_HEADERS,
        "content-type,x-custom".parse().unwrap(),
    );
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preflight_from_a_listed_origin_is_allowed() {
    let server = start(config().cors(listed())).await;
    let response = send(
        server.addr,
        preflight("/engine.io/?EIO=4&transport=polling", ALLOWED),
    )
    .await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        ALLOWED
    );
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_METHODS),
        "GET,HEAD,PUT,PATCH,POST,DELETE"
    );
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_HEADERS),
        "content-type,x-custom"
    );
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_CREDENTIALS),
        "true"
    );
    let vary: Vec<_> = response.headers.get_all(header::VARY).iter().collect();
    assert!(vary.iter().any(|v| *v == "Origin"), "{vary:?}");
    assert!(response.body.is_empty());
    // A preflight opens no session.
    assert_eq!(server.service.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlisted_origin_is_not_reflected() {
    let server = start(config().cors(listed())).await;
    let response = send(
        server.addr,
        preflight("/engine.io/?EIO=4&transport=polling", "http://evil.test"),
    )
    .await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert!(
        response
            .headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );

    let response = send(
        server.addr,
        with_origin(
            Method::GET,
            "/engine.io/?EIO=4&transport=polling",
            "http://evil.test",
        ),
    )
    .await;
    // The server answers; the browser is the one that withholds the answer.
    assert_eq!(response.status, StatusCode::OK);
    assert!(
        response
            .headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    // An origin that only starts like a listed one is not listed.
    let response = send(
        server.addr,
        with_origin(
            Method::GET,
            "/engine.io/?EIO=4&transport=polling",
            "http://allowed.test.evil.test",
        ),
    )
    .await;
    assert!(
        response
            .headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_to_a_listed_origin_carries_cors_headers() {
    let server = start(config().cors(listed().exposed_headers("x-exposed"))).await;
    let check = |response: &Response| {
        assert_eq!(
            response.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            ALLOWED
        );
        assert_eq!(
            response.header(header::ACCESS_CONTROL_ALLOW_CREDENTIALS),
            "true"
        );
        assert_eq!(
            response.header(header::ACCESS_CONTROL_EXPOSE_HEADERS),
            "x-exposed"
        );
    };
    // The handshake.
    let response = send(
        server.addr,
        with_origin(Method::GET, "/engine.io/?EIO=4&transport=polling", ALLOWED),
    )
    .await;
    assert_eq!(response.status, StatusCode::OK);
    check(&response);
    let sid = open_json(response.text())["sid"]
        .as_str()
        .unwrap()
        .to_owned();

    // A POST and a GET of the session.
    let mut request = with_origin(Method::POST, &poll_path(&sid), ALLOWED);
    *request.body_mut() = Full::new("4hello".into());
    let response = send(server.addr, request).await;
    assert_eq!(response.text(), "ok");
    check(&response);
    let response = send(
        server.addr,
        with_origin(Method::GET, &poll_path(&sid), ALLOWED),
    )
    .await;
    assert_eq!(response.text(), "4hello");
    check(&response);

    // A refusal.
    let response = send(
        server.addr,
        with_origin(
            Method::GET,
            "/engine.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA",
            ALLOWED,
        ),
    )
    .await;
    response.assert_refused(400, r#"{"code":1,"message":"Session ID unknown"}"#);
    check(&response);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_origin_is_a_wildcard_without_credentials() {
    let server = start(config().cors(Cors::any())).await;
    let response = send(
        server.addr,
        preflight("/engine.io/?EIO=4&transport=polling", "http://whoever.test"),
    )
    .await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(response.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");
    assert!(
        response
            .headers
            .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
            .is_none()
    );
    let response = get(server.addr, "/engine.io/?EIO=4&transport=polling").await;
    assert_eq!(response.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_preflight_headers() {
    let cors = Cors::new(AllowOrigin::Mirror)
        .methods("GET,POST")
        .allowed_headers("content-type")
        .max_age(Duration::from_secs(600));
    let server = start(config().cors(cors)).await;
    let response = send(
        server.addr,
        preflight(
            "/engine.io/?EIO=4&transport=polling",
            "http://mirrored.test",
        ),
    )
    .await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "http://mirrored.test"
    );
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_METHODS),
        "GET,POST"
    );
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_HEADERS),
        "content-type"
    );
    assert_eq!(response.header(header::ACCESS_CONTROL_MAX_AGE), "600");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cors_no_cors_headers_are_sent() {
    let server = start(config()).await;
    let response = send(
        server.addr,
        preflight("/engine.io/?EIO=4&transport=polling", ALLOWED),
    )
    .await;
    assert_ne!(response.status, StatusCode::NO_CONTENT);
    let response = send(
        server.addr,
        with_origin(Method::GET, "/engine.io/?EIO=4&transport=polling", ALLOWED),
    )
    .await;
    assert_eq!(response.status, StatusCode::OK);
    for (name, _) in &response.headers {
        assert!(
            !name.as_str().starts_with("access-control-"),
            "unexpected {name}"
        );
    }
}
