//! The server's error: an HTTP status and one line for the user, sent as JSON `{"error": "..."}`. Every
//! part of the server may use it; it uses none of them.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An HTTP error: a status and one line for the user.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    header: Option<(HeaderName, &'static str)>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), header: None }
    }

    pub fn with_header(mut self, name: HeaderName, value: &'static str) -> Self {
        self.header = Some((name, value));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(json!({"error": self.message}))).into_response();
        if let Some((name, value)) = self.header {
            r.headers_mut().insert(name, HeaderValue::from_static(value));
        }
        r
    }
}
