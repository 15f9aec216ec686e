//! The live window (minifb; X11/Wayland loaded at run time): shows an RGB frame scaled to fit the window
//! (letterboxed), lets the caller draw an overlay on top, and turns key presses into [`Hotkey`]s.

use fast_image_resize as fir;
use std::cell::RefCell;
use std::rc::Rc;

use minifb::{InputCallback, Key, ScaleMode, WindowOptions};

use crate::engine::resize_into;
use crate::error::{Error, Result};
use crate::frame::Frame;
use super::hud::Canvas;

/// The window title: fixed, so scripts can find the window (`xdotool search --name stylize`).
pub const TITLE: &str = "stylize";

/// What a key press asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hotkey {
    /// 1-9: the model with that number (0-based here).
    Model(usize),
    NextModel,
    PrevModel,
    Stronger,
    Weaker,
    SideBySide,
    Pause,
    Snapshot,
    Record,
    ToggleHud,
    /// Keep the input's colours (luminance-only style).
    PreserveColor,
    /// Multi-style models: glide to the next / previous style.
    NextStyle,
    PrevStyle,
    /// Multi-style models: keep gliding from style to style.
    Morph,
    Quit,
}

/// The hotkeys in words, for `--help` and the HUD.
pub const HOTKEYS_HELP: &str = "Hotkeys: 1-9 or Left/Right switch model, +/- strength (blend of camera and stylized frame), \
C keep the camera's colours, ] / [ glide to the next / previous style of a multi-style model, M morph through its styles, Tab side-by-side original | stylized, Space pause, S PNG snapshot, R start/stop recording, H hide the HUD, Esc/Q quit";

/// Short form for the HUD's bottom line.
pub const HOTKEYS_HUD: &str = "1-9 </> model +/- strength C colour [/] style M morph Tab split Space pause S snap R rec H hud Q quit";

/// Logs every key press as it arrives. minifb's per-update key state misses a quick tap (press and release
/// between two updates, as `xdotool key` sends them); its input callback sees each event.
struct KeyLog(Rc<RefCell<Vec<Key>>>);

impl InputCallback for KeyLog {
    fn add_char(&mut self, _: u32) {}

    fn set_key_state(&mut self, key: Key, down: bool) {
        if down {
            self.0.borrow_mut().push(key);
        }
    }
}

pub struct Window {
    window: minifb::Window,
    pressed: Rc<RefCell<Vec<Key>>>,
    pixels: Vec<u32>,
    /// The frame scaled to the window (reused across frames).
    scaled: Frame,
    resizer: fir::Resizer,
}

/// Fails early (with the hint to `--no-window`) when no display server is named in the environment.
pub fn check_display() -> Result<()> {
    let set = |v: &str| std::env::var_os(v).is_some_and(|s| !s.is_empty());
    if set("DISPLAY") || set("WAYLAND_DISPLAY") {
        return Ok(());
    }
    Err(Error::Display { reason: "no display (DISPLAY is not set)".into() })
}

impl Window {
    /// Opens a resizable window; fails with a hint to `--no-window` when there is no display.
    pub fn open(width: usize, height: usize) -> Result<Window> {
        let no_display = |reason: String| Error::Display { reason };
        check_display()?;
        let opts = WindowOptions { resize: true, scale_mode: ScaleMode::UpperLeft, ..WindowOptions::default() };
        let mut window = minifb::Window::new(TITLE, width.max(1), height.max(1), opts).map_err(|e| no_display(e.to_string()))?;
        // Our loop waits for frames itself; minifb's own rate limit would only add latency.
        window.set_target_fps(0);
        let pressed = Rc::new(RefCell::new(Vec::new()));
        window.set_input_callback(Box::new(KeyLog(pressed.clone())));
        Ok(Window { window, pressed, pixels: Vec::new(), scaled: Frame::new(0, 0), resizer: fir::Resizer::new() })
    }

    pub fn is_open(&self) -> bool {
        self.window.is_open()
    }

    /// Keys pressed since the last call (auto-repeat included: holding + keeps strengthening).
    pub fn hotkeys(&self) -> Vec<Hotkey> {
        self.pressed.borrow_mut().drain(..).filter_map(hotkey).collect()
    }

    /// Handles window events without drawing (keeps the window responsive between frames).
    pub fn poll(&mut self) {
        self.window.update();
    }

    /// Shows `frame` scaled to fit the window (or a black window without one), then `overlay` on top.
    pub fn present(&mut self, frame: Option<&Frame>, overlay: impl FnOnce(&mut Canvas)) -> Result<()> {
        let (ww, wh) = self.window.get_size();
        let (ww, wh) = (ww.max(1), wh.max(1));
        self.pixels.clear();
        self.pixels.resize(ww * wh, 0);
        if let Some(frame) = frame.filter(|f| f.width > 0 && f.height > 0) {
            // Fit inside the window, keeping the aspect ratio.
            let scale = (ww as f64 / frame.width as f64).min(wh as f64 / frame.height as f64);
            let (fw, fh) = (((frame.width as f64 * scale).round() as usize).clamp(1, ww), ((frame.height as f64 * scale).round() as usize).clamp(1, wh));
            let src = if (fw, fh) == (frame.width, frame.height) {
                frame
            } else {
                self.scaled.resize(fw, fh);
                resize_into(&mut self.resizer, frame, &mut self.scaled)?;
                &self.scaled
            };
            let (x0, y0) = ((ww - fw) / 2, (wh - fh) / 2);
            for (y, row) in src.data.chunks_exact(fw * 3).enumerate() {
                let dst = &mut self.pixels[(y0 + y) * ww + x0..][..fw];
                for (d, px) in dst.iter_mut().zip(row.chunks_exact(3)) {
                    *d = (u32::from(px[0]) << 16) | (u32::from(px[1]) << 8) | u32::from(px[2]);
                }
            }
        }
        overlay(&mut Canvas { pixels: &mut self.pixels, width: ww, height: wh });
        self.window.update_with_buffer(&self.pixels, ww, wh).map_err(|e| Error::Display { reason: format!("drawing failed: {e}") })
    }
}

fn hotkey(key: Key) -> Option<Hotkey> {
    use Hotkey::*;
    let digits = [Key::Key1, Key::Key2, Key::Key3, Key::Key4, Key::Key5, Key::Key6, Key::Key7, Key::Key8, Key::Key9];
    let pad = [Key::NumPad1, Key::NumPad2, Key::NumPad3, Key::NumPad4, Key::NumPad5, Key::NumPad6, Key::NumPad7, Key::NumPad8, Key::NumPad9];
    if let Some(i) = digits.iter().position(|&k| k == key).or_else(|| pad.iter().position(|&k| k == key)) {
        return Some(Model(i));
    }
    Some(match key {
        Key::Right | Key::PageDown => NextModel,
        Key::Left | Key::PageUp => PrevModel,
        // '+' is Shift+'=' on most layouts: accept '=' too.
        Key::Equal | Key::NumPadPlus => Stronger,
        Key::Minus | Key::NumPadMinus => Weaker,
        Key::Tab => SideBySide,
        Key::Space => Pause,
        Key::S => Snapshot,
        Key::R => Record,
        Key::H => ToggleHud,
        Key::C => PreserveColor,
        Key::RightBracket => NextStyle,
        Key::LeftBracket => PrevStyle,
        Key::M => Morph,
        Key::Escape | Key::Q => Quit,
        _ => return None,
    })
}
