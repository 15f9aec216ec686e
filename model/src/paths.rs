//! Where a user's own models live: `$XDG_DATA_HOME/stylize/models` (by default `~/.local/share/stylize/models`).
//! `stylize-train export` writes there by default and `stylize -m NAME` finds them there, from any folder.

use std::path::PathBuf;

/// The user's models folder (it may not exist yet); None without `XDG_DATA_HOME` and `HOME`.
pub fn user_models_dir() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join("stylize").join("models"))
}
