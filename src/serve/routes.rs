//! The HTTP side: the page, the server's description, the WebSocket, and the jobs API. Only these exact paths
//! exist (no files are served from disk, so there is nothing to list or to reach with `..`); every error is
//! JSON `{"error": "one line"}` with a fitting status.
//!
//! - `GET /`, `/app.js`, `/style.css`: the page, from the binary.
//! - `GET /api/info`: models, styles, limits.
//! - `GET /ws`: the live WebSocket (see `session`).
//! - `POST /api/jobs[?session=ID]`: multipart upload, fields `file` and `options` (JSON: `model`, `style_mix`,
//!   `strength`, `preserve_color`, `scale`); 202 with the job. A page passes its session so that its jobs
//!   end when it closes.
//! - `GET /api/jobs/ID`: state and progress; `DELETE /api/jobs/ID`: cancel and remove;
//!   `GET /api/jobs/ID/result[?download=1]`: the image or video.

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};

use axum::body::Body;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::jobs::{JobOptions, Kind, Phase, Refusal};
use super::error::ApiError;
use super::{auth, page, session};
use crate::effects::Effects;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

pub fn router(state: Arc<super::State>) -> Router {
    // The multipart framing around the file: a little more than the file itself may be.
    let upload_limit = usize::try_from(state.limits.max_upload_bytes).unwrap_or(usize::MAX).saturating_add(64 * 1024);
    Router::new()
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/style.css", get(page::style))
        .route("/api/info", get(info))
        .route("/ws", get(session::upgrade))
        .route("/api/jobs", post(create_job).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/api/jobs/{id}", get(job_status).delete(cancel_job))
        .route("/api/jobs/{id}/result", get(job_result))
        .fallback(not_found)
        .method_not_allowed_fallback(|| async { ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here") })
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(middleware::from_fn(hardening))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such page")
}

/// The request headers a page sends are a few hundred bytes; far more is no page of ours.
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Headers on every answer: nothing is cached, sniffed, framed by other sites or told where it came from.
async fn hardening(req: Request, next: Next) -> Response {
    let header_bytes: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    let mut r = if header_bytes > MAX_HEADER_BYTES || req.uri().to_string().len() > MAX_HEADER_BYTES {
        ApiError::new(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "the request's headers or address are too large").into_response()
    } else {
        next.run(req).await
    };
    let h = r.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    );
    r
}

async fn info(State(state): State<Arc<super::State>>) -> Json<serde_json::Value> {
    let l = &state.limits;
    let models: Vec<_> = state.models.iter().map(|m| json!({"name": m.name, "styles": m.styles})).collect();
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"), "device": state.device, "models": models,
        "limits": {"max_fps": l.max_fps, "max_frame": [l.max_frame.0, l.max_frame.1], "max_job_frame": [l.max_job_frame.0, l.max_job_frame.1],
                   "max_upload_bytes": l.max_upload_bytes, "jobs": l.jobs, "jobs_per_client": l.jobs_per_client, "queue": l.queue},
    }))
}

#[derive(Deserialize)]
struct JobQuery {
    session: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct UploadOptions {
    model: Option<String>,
    style_mix: Option<String>,
    strength: Option<f32>,
    preserve_color: Option<bool>,
    scale: Option<f64>,
}

fn multipart_error(e: MultipartError) -> ApiError {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(status, "the upload is larger than this server takes (--max-upload-mb)");
    }
    ApiError::new(status, format!("bad upload: {}", e.body_text()))
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the upload is larger than this server takes: at most {} MB (--max-upload-mb)", limit / 1_000_000))
}

async fn create_job(
    State(state): State<Arc<super::State>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    query: Result<Query<JobQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let limit = state.limits.max_upload_bytes;
    // Refused before a byte of the body is read when the client says how big it is.
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit + 64 * 1024) {
        return Err(too_large(limit));
    }
    let Query(query) = query.map_err(|e| bad(format!("bad query: {}", e.body_text())))?;
    let mut multipart = multipart.map_err(|e| bad(format!("expected a multipart/form-data upload with a `file` field ({})", e.body_text())))?;
    if let Some(id) = &query.session {
        if !state.sessions.lock().unwrap_or_else(PoisonError::into_inner).contains_key(id) {
            return Err(bad("unknown session: reload the page"));
        }
    }
    let staging = state.jobs.reserve(addr.ip()).map_err(|r| match r {
        Refusal::ClientBusy(n) => ApiError::new(StatusCode::TOO_MANY_REQUESTS, format!("you have {n} jobs queued or running (--jobs-per-client); wait for one to finish")),
        Refusal::QueueFull(n) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("the queue is full ({n} jobs waiting, --queue); try again later")),
    })?;
    let input = staging.input();
    let mut name = None;
    let mut options_text = None;
    // A failed or aborted upload returns here; dropping `staging` removes what was written.
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name().unwrap_or("") {
            "file" if name.is_none() => {
                name = Some(super::safe_name(field.file_name().unwrap_or("upload")));
                let mut file = tokio::fs::File::create(&input).await.map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot store the upload: {e}")))?;
                let mut written = 0u64;
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    written += chunk.len() as u64;
                    if written > limit {
                        return Err(too_large(limit));
                    }
                    file.write_all(&chunk).await.map_err(|e| ApiError::new(StatusCode::INSUFFICIENT_STORAGE, format!("cannot store the upload: {e}")))?;
                }
                file.flush().await.map_err(|e| ApiError::new(StatusCode::INSUFFICIENT_STORAGE, format!("cannot store the upload: {e}")))?;
                if written == 0 {
                    return Err(bad("the file is empty"));
                }
            }
            "file" => return Err(bad("one file per upload")),
            "options" if options_text.is_none() => {
                let text = field.text().await.map_err(multipart_error)?;
                if text.len() > 64 * 1024 {
                    return Err(bad("the options are too long"));
                }
                options_text = Some(text);
            }
            other => return Err(bad(format!("unknown field {:?} (the fields are `file` and `options`)", super::safe_name(other)))),
        }
    }
    let name = name.ok_or_else(|| bad("no file in the upload (field `file`)"))?;
    let options: UploadOptions = match options_text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(text) => serde_json::from_str(text).map_err(|e| bad(format!("bad options: {e}")))?,
        None => UploadOptions::default(),
    };
    let options = job_options(&state, options).map_err(bad)?;
    let (limits, path, shown, scale) = (state.limits.clone(), input.clone(), name.clone(), options.scale);
    let (kind, total) = tokio::task::spawn_blocking(move || super::jobs::probe(&limits, &path, &shown, scale))
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the upload could not be examined"))?
        .map_err(|(status, message)| ApiError::new(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), message))?;
    let model = state.models[options.model].name.clone();
    let job = state.jobs.submit(staging, query.session, kind, name, options, total, &model);
    Ok((StatusCode::ACCEPTED, Json(job.describe())))
}

/// The upload's options, checked as the CLI checks them.
fn job_options(state: &super::State, o: UploadOptions) -> Result<JobOptions, String> {
    let model = match &o.model {
        Some(name) => state.model_index(name).ok_or_else(|| format!("no model {name:?} here; this server offers {}", state.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")))?,
        None => 0,
    };
    let mix = match o.style_mix.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(text) => Some(session::parse_mix(state, model, text)?),
        None => None,
    };
    let strength = session::check_strength(o.strength.unwrap_or(1.0))?;
    if let Some(s) = o.scale {
        if !(s.is_finite() && s > 0.0 && s <= 4.0) {
            return Err(format!("scale {s} is out of range; use a factor above 0 and up to 4 (e.g. 0.5)"));
        }
    }
    Ok(JobOptions { model, mix, effects: Effects { strength, preserve_color: o.preserve_color.unwrap_or(false) }, scale: o.scale })
}

/// Job ids are 32 hex digits; anything else is no job (and never reaches a path).
fn job(state: &super::State, id: &str) -> Result<Arc<super::jobs::Job>, ApiError> {
    let valid = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| state.jobs.get(id)).flatten().ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such job (finished results are kept for a while, then removed)"))
}

async fn job_status(State(state): State<Arc<super::State>>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(job(&state, &id)?.describe()))
}

async fn cancel_job(State(state): State<Arc<super::State>>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    job(&state, &id)?;
    let job = state.jobs.cancel(&id).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such job"))?;
    Ok(Json(json!({"id": job.id, "state": "cancelled"})))
}

#[derive(Deserialize)]
struct ResultQuery {
    download: Option<String>,
}

async fn job_result(State(state): State<Arc<super::State>>, Path(id): Path<String>, query: Result<Query<ResultQuery>, axum::extract::rejection::QueryRejection>) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| bad(format!("bad query: {}", e.body_text())))?;
    let job = job(&state, &id)?;
    match job.phase() {
        Phase::Done => {}
        Phase::Failed(e) => return Err(ApiError::new(StatusCode::CONFLICT, format!("the job failed: {e}"))),
        other => return Err(ApiError::new(StatusCode::CONFLICT, format!("the job is not done yet ({other:?})").to_lowercase())),
    }
    let file = tokio::fs::File::open(&job.output).await.map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "the result is gone"))?;
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let mime = match (job.kind, job.output.extension().and_then(|e| e.to_str())) {
        (Kind::Video, _) => "video/mp4",
        (Kind::Image, Some("jpg")) => "image/jpeg",
        (Kind::Image, _) => "image/png",
    };
    let disposition = if query.download.is_some() { "attachment" } else { "inline" };
    // `download` is made of safe characters only (see `safe_name`).
    let disposition = format!("{disposition}; filename=\"{}\"", job.download);
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok(([(header::CONTENT_TYPE, mime.to_string()), (header::CONTENT_LENGTH, len.to_string()), (header::CONTENT_DISPOSITION, disposition)], body).into_response())
}
