//! Who may talk to the server, checked on every request and WebSocket before anything else runs:
//! - the token, when there is one (`Authorization: Bearer TOKEN`, or `?token=TOKEN`: a browser cannot put a
//!   header on a WebSocket, and the page takes the token from its own address);
//! - the `Host` header, when there is no token: only loopback names, so a web page elsewhere cannot reach a
//!   server on 127.0.0.1 through a DNS name pointed at it (DNS rebinding);
//! - the `Origin` header, when a browser sends one: it must be this server, so another site open in the same
//!   browser cannot use its WebSocket or upload files.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

pub async fn guard(State(state): State<Arc<super::State>>, req: Request, next: Next) -> Response {
    match check(state.token.as_deref(), req.headers(), req.uri()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

pub fn check(token: Option<&str>, headers: &HeaderMap, uri: &Uri) -> Result<(), ApiError> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "the request has no Host header"))?;
    if token.is_none() && !is_loopback_host(host) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, format!("Host {host:?} is not this server (it answers only to localhost without a --token)")));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let authority = origin.split_once("://").map(|(_, rest)| rest.trim_end_matches('/'));
        if !authority.is_some_and(|a| a.eq_ignore_ascii_case(host)) {
            return Err(ApiError::new(StatusCode::FORBIDDEN, format!("requests from {origin:?} are refused: only this server's own page may use it")));
        }
    }
    let Some(token) = token else { return Ok(()) };
    let bearer = headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).and_then(|h| h.strip_prefix("Bearer ")).map(str::trim);
    let query = uri.query().unwrap_or("").split('&').find_map(|kv| kv.strip_prefix("token="));
    match bearer.or(query) {
        Some(given) if same(given.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(unauthorized("the token is wrong")),
        None => Err(unauthorized("this server needs a token: open the page as http://HOST:PORT/?token=TOKEN, or send `Authorization: Bearer TOKEN`")),
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, message).with_header(header::WWW_AUTHENTICATE, "Bearer")
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, port)| if port.bytes().all(|b| b.is_ascii_digit()) { name } else { host }),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Compares in time that does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn loopback_hosts() {
        for ok in ["localhost", "localhost:8080", "127.0.0.1:1", "127.1.2.3", "[::1]:80", "[::1]"] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in ["evil.example", "evil.example:8080", "10.0.0.1:8080", "localhost.evil.example", "[::2]:80"] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn tokens_hosts_and_origins() {
        let uri: Uri = "/api/info".parse().unwrap();
        let local = headers(&[("host", "127.0.0.1:8080")]);
        assert!(check(None, &local, &uri).is_ok());
        assert_eq!(check(None, &headers(&[("host", "rebound.example:8080")]), &uri).unwrap_err().status, StatusCode::FORBIDDEN);
        let foreign = headers(&[("host", "127.0.0.1:8080"), ("origin", "http://evil.example")]);
        assert_eq!(check(None, &foreign, &uri).unwrap_err().status, StatusCode::FORBIDDEN);
        let own = headers(&[("host", "127.0.0.1:8080"), ("origin", "http://127.0.0.1:8080")]);
        assert!(check(None, &own, &uri).is_ok());

        let t = "0123456789abcdef";
        let remote = headers(&[("host", "box.lan:8080")]);
        assert_eq!(check(Some(t), &remote, &uri).unwrap_err().status, StatusCode::UNAUTHORIZED);
        assert!(check(Some(t), &remote, &"/ws?token=0123456789abcdef".parse().unwrap()).is_ok());
        assert!(check(Some(t), &remote, &"/ws?a=1&token=0123456789abcdeX".parse().unwrap()).is_err());
        let bearer = headers(&[("host", "box.lan:8080"), ("authorization", "Bearer 0123456789abcdef")]);
        assert!(check(Some(t), &bearer, &uri).is_ok());
        assert!(check(Some(t), &headers(&[("host", "box.lan:8080"), ("authorization", "Bearer 0123")]), &uri).is_err());
    }
}
