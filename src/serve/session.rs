//! One page's WebSocket: its live frames in and out, its settings, and its lifetime (the jobs it started end
//! with it).
//!
//! Protocol. Server to page, text: `hello` (session id, models and their styles, limits), `settings` (the
//! settings now in force), `stats` (every second while frames flow), `notice`, `error` (`seq`: the frame it is
//! about, or null). Page to server, text: `{"type":"settings", "model", "style_mix", "strength",
//! "preserve_color", "size"}` (each optional). Frames, binary both ways: a 4-byte little-endian sequence number,
//! then a JPEG or PNG in; out, the sequence number, 4 bytes of the server's time on it in microseconds
//! (receipt to sent), and a JPEG.

use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::atomic::{Ordering, Ordering::Relaxed};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use image::ImageFormat;
use serde::Deserialize;
use serde_json::json;

use super::inference::{Client, Reply, Request, Settings};
use super::limits::{Limits, RateLimit};
use super::error::ApiError;
use crate::effects::Effects;
use crate::frame::Frame;

/// JPEG quality of the frames sent back: ~30 KB for a stylized 640x360 frame, no visible loss at that size.
const JPEG_QUALITY: u8 = 85;

/// Gives the client's place back when the session ends, however it ends (also when the upgrade fails).
struct Seat(Arc<super::State>);

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::SeqCst);
    }
}

pub async fn upgrade(State(state): State<Arc<super::State>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, ws: WebSocketUpgrade) -> Response {
    let max = state.limits.max_clients;
    if state.clients.fetch_add(1, Ordering::SeqCst) >= max {
        state.clients.fetch_sub(1, Ordering::SeqCst);
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("the server has its {max} live clients (--max-clients); try again later")).into_response();
    }
    let seat = Seat(state.clone());
    let bytes = state.limits.max_message_bytes();
    ws.max_message_size(bytes).max_frame_size(bytes).on_upgrade(move |socket| async move {
        run(&seat.0, socket, addr).await;
        drop(seat);
    })
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum FromPage {
    Settings {
        model: Option<String>,
        style_mix: Option<String>,
        strength: Option<f32>,
        preserve_color: Option<bool>,
        size: Option<(u32, u32)>,
    },
}

/// A session's state besides the socket.
struct Session {
    settings: Settings,
    /// Frames must be this size when the page said so.
    size: Option<(u32, u32)>,
    rate: RateLimit,
    /// Frames over the rate, dropped.
    limited: u64,
    last_notice: Option<Instant>,
    errors: u64,
}

async fn run(state: &Arc<super::State>, mut socket: WebSocket, addr: SocketAddr) {
    let id = super::random_id();
    state.sessions.lock().unwrap_or_else(PoisonError::into_inner).insert(id.clone(), addr.ip());
    // Two results may wait for the socket; a third means the connection is slower than the stylizer: dropped.
    let (tx, mut replies) = tokio::sync::mpsc::channel::<Reply>(2);
    let client = Client::new(tx);
    let mut s = Session {
        settings: Settings { model: 0, mix: None, effects: Effects::default() },
        size: None,
        rate: RateLimit::new(state.limits.max_fps),
        limited: 0,
        last_notice: None,
        errors: 0,
    };
    let mut stopping = state.stopping.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_stats = (0, 0, 0, 0);
    if *stopping.borrow() || send_json(&mut socket, hello(state, &id)).await.is_err() {
        return finish(state, &client, &id);
    }
    loop {
        tokio::select! {
            msg = socket.recv() => match msg {
                None | Some(Ok(Message::Close(_))) => break,
                Some(Err(e)) => {
                    let why = e.to_string();
                    if why.contains("too long") || why.contains("Space limit") {
                        let (w, h) = state.limits.max_frame;
                        let reason = format!("message too big: frames are at most {w}x{h}");
                        let _ = socket.send(Message::Close(Some(CloseFrame { code: 1009, reason: reason.into() }))).await;
                    }
                    break;
                }
                Some(Ok(Message::Text(text))) => {
                    let reply = settings(state, &mut s, text.as_str());
                    if send_json(&mut socket, reply).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Binary(bytes))) => {
                    if let Some(error) = frame(state, &client, &mut s, bytes).await {
                        if send_json(&mut socket, error).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(_)) => {}
            },
            Some(reply) = replies.recv() => {
                if send_reply(&mut socket, reply).await.is_err() {
                    break;
                }
            }
            _ = tick.tick() => {
                let now = (client.stylized.load(Relaxed), client.replaced.load(Relaxed), s.limited, client.unsent.load(Relaxed));
                if now != last_stats {
                    last_stats = now;
                    let stats = json!({"type": "stats", "stylized": now.0, "replaced": now.1, "limited": now.2, "unsent": now.3, "errors": s.errors, "clients": state.clients.load(Relaxed)});
                    if send_json(&mut socket, stats).await.is_err() {
                        break;
                    }
                }
            }
            // Changed (to true) or dropped: the server is stopping either way.
            _ = stopping.changed() => {
                let _ = socket.send(Message::Close(Some(CloseFrame { code: 1001, reason: "the server is stopping".into() }))).await;
                break;
            }
        }
    }
    finish(state, &client, &id);
}

/// The session is over: its waiting frame goes, and so do the jobs it started, with their files.
fn finish(state: &super::State, client: &Client, id: &str) {
    client.close();
    state.sessions.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    state.jobs.cancel_session(id);
}

fn hello(state: &super::State, id: &str) -> serde_json::Value {
    let l = &state.limits;
    let models: Vec<_> = state.models.iter().map(|m| json!({"name": m.name, "styles": m.styles})).collect();
    json!({
        "type": "hello",
        "session": id,
        "version": env!("CARGO_PKG_VERSION"),
        "device": state.device,
        "models": models,
        "limits": {"max_fps": l.max_fps, "max_frame": [l.max_frame.0, l.max_frame.1], "max_job_frame": [l.max_job_frame.0, l.max_job_frame.1], "max_upload_bytes": l.max_upload_bytes},
    })
}

/// Applies a settings message; the answer is the settings now in force, or an error (the old ones stay).
fn settings(state: &super::State, s: &mut Session, text: &str) -> serde_json::Value {
    match parse_settings(state, &s.settings, text) {
        Ok((settings, size)) => {
            s.settings = settings;
            if let Some(size) = size {
                s.size = Some(size);
            }
            let model = &state.models[s.settings.model];
            let mix = match (&s.settings.mix, model.styles.len()) {
                (_, 0) => String::new(),
                (Some(mix), _) => crate::styles::describe(mix, &model.styles),
                (None, n) => crate::styles::describe(&vec![1.0 / n as f32; n], &model.styles),
            };
            let e = s.settings.effects;
            json!({"type": "settings", "model": model.name, "style_mix": mix, "strength": e.strength, "preserve_color": e.preserve_color, "size": s.size})
        }
        Err(message) => {
            s.errors += 1;
            json!({"type": "error", "seq": null, "message": message})
        }
    }
}

pub(super) fn parse_settings(state: &super::State, current: &Settings, text: &str) -> Result<(Settings, Option<(u32, u32)>), String> {
    let FromPage::Settings { model, style_mix, strength, preserve_color, size } = serde_json::from_str(text).map_err(|e| format!("bad message: {e}"))?;
    let mut next = current.clone();
    if let Some(name) = model {
        let index = state.model_index(&name).ok_or_else(|| format!("no model {name:?} here; this server offers {}", state.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")))?;
        if index != next.model {
            next.model = index;
            next.mix = None;
        }
    }
    if let Some(text) = style_mix.filter(|t| !t.trim().is_empty()) {
        next.mix = Some(parse_mix(state, next.model, &text)?);
    }
    if let Some(strength) = strength {
        next.effects.strength = check_strength(strength)?;
    }
    if let Some(p) = preserve_color {
        next.effects.preserve_color = p;
    }
    if let Some((w, h)) = size {
        state.limits.check_frame(w, h).map_err(|e| format!("frame size {e}"))?;
    }
    Ok((next, size))
}

/// A style mix against a model's styles, with the CLI's errors.
pub(super) fn parse_mix(state: &super::State, model: usize, text: &str) -> Result<Vec<f32>, String> {
    let m = &state.models[model];
    if m.styles.is_empty() {
        return Err(format!("--style-mix: {} has one style; mixes need a multi-style model (e.g. styles4-lite)", m.name));
    }
    crate::styles::parse_mix(text, &m.styles).map_err(|e| e.to_string())
}

/// The CLI's `--strength` rule.
pub(super) fn check_strength(strength: f32) -> Result<f32, String> {
    if !(0.0..=1.0).contains(&strength) {
        return Err(format!("--strength {strength} is out of range; use 0 (the input) to 1 (fully stylized)"));
    }
    Ok(strength)
}

/// Takes a frame message: over the rate it is dropped (with a notice at most once a second), a bad one gets an
/// error, a good one waits for a worker (replacing the one waiting, if any).
async fn frame(state: &super::State, client: &Arc<Client>, s: &mut Session, bytes: axum::body::Bytes) -> Option<serde_json::Value> {
    let received = Instant::now();
    if bytes.len() < 4 {
        s.errors += 1;
        return Some(json!({"type": "error", "seq": null, "message": "a frame starts with a 4-byte sequence number, then a JPEG or PNG"}));
    }
    let seq = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if !s.rate.allow() {
        s.limited += 1;
        if s.last_notice.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            s.last_notice = Some(received);
            let message = format!("over {} frames per second (--max-fps): dropped {} frames so far", state.limits.max_fps, s.limited);
            return Some(json!({"type": "notice", "message": message}));
        }
        return None;
    }
    let (limits, size) = (state.limits.clone(), s.size);
    let decoded = tokio::task::spawn_blocking(move || decode_frame(&bytes[4..], &limits, size)).await.unwrap_or_else(|_| Err("the frame could not be decoded".into()));
    match decoded {
        Ok(frame) => {
            state.live.submit(client, Request { seq, frame, settings: s.settings.clone(), received });
            None
        }
        Err(message) => {
            s.errors += 1;
            Some(json!({"type": "error", "seq": seq, "message": format!("frame {seq}: {message}")}))
        }
    }
}

/// A frame from the page: a complete JPEG or PNG within the limits (and of the announced size, if any).
pub(super) fn decode_frame(bytes: &[u8], limits: &Limits, size: Option<(u32, u32)>) -> Result<Frame, String> {
    let format = image::guess_format(bytes).map_err(|_| "not an image (a JPEG or PNG is expected)".to_string())?;
    if !matches!(format, ImageFormat::Jpeg | ImageFormat::Png) {
        return Err(format!("{format:?} images are not accepted (a JPEG or PNG is expected)"));
    }
    // The JPEG decoder fills in what is missing from a cut-off file; a complete one ends with its EOI marker.
    if format == ImageFormat::Jpeg && !bytes.ends_with(&[0xFF, 0xD9]) {
        return Err("truncated JPEG (no end-of-image marker)".into());
    }
    let (w, h) = image::ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().map_err(|e| format!("unreadable {format:?}: {e}"))?;
    limits.check_frame(w, h)?;
    if let Some((ew, eh)) = size.filter(|&s| s != (w, h)) {
        return Err(format!("the frame is {w}x{h}, but this session sends {ew}x{eh} frames"));
    }
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut lim = image::Limits::default();
    lim.max_image_width = Some(w);
    lim.max_image_height = Some(h);
    reader.limits(lim);
    let img = reader.decode().map_err(|e| format!("cannot decode the {format:?}: {e}"))?;
    let rgb = img.into_rgb8();
    Ok(Frame::from_raw(w as usize, h as usize, rgb.into_raw()))
}

pub(super) fn encode_jpeg(frame: &Frame, out: &mut Vec<u8>) -> Result<(), String> {
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(out, JPEG_QUALITY);
    image::ImageEncoder::write_image(enc, &frame.data, frame.width as u32, frame.height as u32, image::ExtendedColorType::Rgb8).map_err(|e| e.to_string())
}

async fn send_reply(socket: &mut WebSocket, reply: Reply) -> Result<(), axum::Error> {
    let Reply { seq, result, received } = reply;
    let frame = match result {
        Ok(frame) => frame,
        Err(message) => return send_json(socket, json!({"type": "error", "seq": seq, "message": format!("frame {seq}: {message}")})).await,
    };
    let encoded = tokio::task::spawn_blocking(move || {
        let mut out = Vec::with_capacity(8 + frame.data.len() / 8);
        out.extend_from_slice(&seq.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        encode_jpeg(&frame, &mut out).map(|()| out)
    })
    .await
    .unwrap_or_else(|_| Err("encoding failed".into()));
    match encoded {
        Ok(mut out) => {
            let us = received.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            out[4..8].copy_from_slice(&us.to_le_bytes());
            socket.send(Message::Binary(out.into())).await
        }
        Err(e) => send_json(socket, json!({"type": "error", "seq": seq, "message": format!("frame {seq}: {e}")})).await,
    }
}

async fn send_json(socket: &mut WebSocket, value: serde_json::Value) -> Result<(), axum::Error> {
    socket.send(Message::Text(value.to_string().into())).await
}
