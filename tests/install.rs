//! Installing like a real tool: scripts/install.sh into a prefix, then the installed `stylize` run from an
//! unrelated folder with a clean environment; uninstall; the .deb and the archive from scripts/package.sh.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether the ONNX Runtime library that install.sh copies is there (scripts/setup.sh puts it in .deps/).
fn ort_missing() -> bool {
    let have = std::fs::read_dir(repo().join(".deps/onnxruntime/lib")).is_ok_and(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("libonnxruntime.so.")));
    if !have {
        eprintln!("skipping: no ONNX Runtime in .deps/ (run scripts/setup.sh)");
    }
    !have
}

fn install(prefix: &Path, extra: &[&str]) -> Output {
    Command::new("bash").arg(repo().join("scripts/install.sh")).arg("--prefix").arg(prefix).args(["--bin", env!("CARGO_BIN_EXE_stylize")]).args(extra).output().unwrap()
}

/// Runs an installed binary from `cwd` with only PATH and HOME set: no ORT_DYLIB_PATH, no checkout around.
fn run_clean(bin: &Path, cwd: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(bin).args(args).current_dir(cwd).env_clear().env("PATH", "/usr/bin:/bin").env("HOME", home).output().unwrap()
}

/// Every path under `dir` (relative), sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            out.push(e.path().strip_prefix(root).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                walk(root, &e.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn installed_stylize_works_from_any_folder_and_uninstalls_cleanly() {
    if ort_missing() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (prefix, elsewhere, home) = (dir.path().join("prefix"), dir.path().join("elsewhere"), dir.path().join("home"));
    for d in [&prefix, &elsewhere, &home] {
        std::fs::create_dir_all(d).unwrap();
    }
    // The prefix already holds something of the user's: it must survive install and uninstall.
    std::fs::create_dir_all(prefix.join("bin")).unwrap();
    std::fs::write(prefix.join("bin/mine"), "#!/bin/sh\n").unwrap();
    let before = tree(&prefix);
    let o = install(&prefix, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bin = prefix.join("bin/stylize");
    for f in ["lib/stylize", "share/stylize/models/candy.onnx", "share/stylize/models/candy.md", "share/man/man1/stylize.1.gz", "share/bash-completion/completions/stylize", "share/stylize/bigbuckbunny.mp4"] {
        assert!(prefix.join(f).exists(), "{f} not installed");
    }

    let o = run_clean(&bin, &elsewhere, &home, &["--version"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("ONNX Runtime 1.") && stdout(&o).contains(&prefix.join("lib/stylize").display().to_string()), "{}", stdout(&o));
    let o = run_clean(&bin, &elsewhere, &home, &["models"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).lines().any(|l| l.starts_with("candy ")) && stdout(&o).contains("installed"), "{}", stdout(&o));

    let photo = elsewhere.join("photo.png");
    write_png(&photo, 96, 64);
    let o = run_clean(&bin, &elsewhere, &home, &["image", "-m", "candy", "photo.png", "-o", "out.png"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // OpenVINO, when setup installed it, comes along and is found beside the binary.
    if repo().join(".deps/openvino/lib/libopenvino_c.so").exists() {
        let o = run_clean(&bin, &elsewhere, &home, &["image", "--device", "openvino", "-m", "candy-lite", "photo.png", "-o", "out-ov.png"]);
        assert!(o.status.success() && stderr(&o).contains("on openvino"), "{}", stderr(&o));
        let o = run_clean(&bin, &elsewhere, &home, &["info"]);
        assert!(stdout(&o).contains(&prefix.join("lib/stylize/openvino").display().to_string()), "{}", stdout(&o));
    }
    assert!(elsewhere.join("out.png").exists());
    if have("ffmpeg") {
        make_clip(&elsewhere.join("clip.mp4"), "96x64", 10, 0.5);
        let o = run_clean(&bin, &elsewhere, &home, &["video", "-q", "-m", "candy-lite", "clip.mp4", "-o", "out.mp4"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(probe_video(&elsewhere.join("out.mp4"), "nb_read_packets"), "5");
    }

    // A model the user trained (their models folder) is found by name too; a broken one is listed as such.
    let mine = home.join(".local/share/stylize/models");
    std::fs::create_dir_all(&mine).unwrap();
    random_model(&mine, "lite", 51);
    std::fs::write(mine.join("broken.onnx"), b"not a model").unwrap();
    let o = run_clean(&bin, &elsewhere, &home, &["models"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let listed = stdout(&o);
    assert!(listed.lines().any(|l| l.starts_with("broken ") && l.contains("BROKEN")), "{listed}");
    assert!(listed.lines().any(|l| l.starts_with("lite-51 ") && !l.contains("BROKEN")), "{listed}");
    let o = run_clean(&bin, &elsewhere, &home, &["image", "-m", "lite-51", "photo.png", "-o", "mine.png"]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Install over the older one: replaced cleanly (same tree), then uninstall leaves the prefix as it was.
    let installed = tree(&prefix);
    let o = install(&prefix, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(tree(&prefix), installed);
    let o = install(&prefix, &["--uninstall"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(tree(&prefix), before);
}

#[test]
fn an_unwritable_prefix_is_a_clean_error() {
    if ort_missing() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let o = install(&file.join("prefix"), &[]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("cannot write to") && err.contains("--prefix"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn debian_package_and_archive_install_a_working_tree() {
    if ort_missing() {
        return;
    }
    if !have("dpkg-deb") && Command::new("dpkg-deb").arg("--version").output().is_err() {
        eprintln!("skipping: dpkg-deb is missing (not a Debian system)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dist");
    let o = Command::new("bash").arg(repo().join("scripts/package.sh")).args(["--fast", "--bin", env!("CARGO_BIN_EXE_stylize"), "--out"]).arg(&out).output().unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let version = env!("CARGO_PKG_VERSION");
    let deb = out.join(format!("stylize_{version}_amd64.deb"));
    let info = Command::new("dpkg-deb").arg("-I").arg(&deb).output().unwrap();
    let info = stdout(&info);
    assert!(info.contains("Package: stylize") && info.contains("libavcodec") && info.contains("libswscale"), "{info}");
    let contents = stdout(&Command::new("dpkg-deb").arg("-c").arg(&deb).output().unwrap());
    for f in ["./usr/bin/stylize", "./usr/lib/stylize/libonnxruntime.so.", "./usr/share/stylize/models/candy.onnx", "./usr/share/man/man1/stylize.1.gz", "./usr/share/doc/stylize/copyright"] {
        assert!(contents.contains(f), "{f} not in the package:\n{contents}");
    }
    // Unpacked into a root of its own, the binary finds its library and models as it would in /usr.
    let root = dir.path().join("root");
    assert!(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root).status().unwrap().success());
    let o = run_clean(&root.join("usr/bin/stylize"), dir.path(), dir.path(), &["models"]);
    assert!(o.status.success() && stdout(&o).lines().any(|l| l.starts_with("candy-lite ")), "{}{}", stdout(&o), stderr(&o));
    // The archive holds the same tree.
    let tar = out.join(format!("stylize-{version}-x86_64-linux.tar.gz"));
    let x = dir.path().join("x");
    std::fs::create_dir(&x).unwrap();
    assert!(Command::new("tar").arg("-xzf").arg(&tar).arg("-C").arg(&x).status().unwrap().success());
    let o = run_clean(&x.join(format!("stylize-{version}/bin/stylize")), dir.path(), dir.path(), &["--version"]);
    assert!(o.status.success() && stdout(&o).contains("ONNX Runtime 1."), "{}{}", stdout(&o), stderr(&o));
}
