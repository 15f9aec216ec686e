//! `stylize`: the command line. It parses arguments, calls the library and reports errors in one line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, CommandFactory, Parser, Subcommand};
use stylize::args::EngineArgs;
use stylize::engine::{self, Residence};
use stylize::{batch, images, models, Frame};

#[derive(Parser)]
#[command(
    name = "stylize",
    about = "Paint images, video files and webcams in the style of an artwork",
    disable_version_flag = true,
    arg_required_else_help = true,
    after_help = "Examples:\n  stylize image -m candy photo.jpg -o photo-candy.png\n  stylize video -m candy clip.mp4 -o clip-candy.mp4\n  stylize live -m candy-lite\n  stylize models\n\n`stylize help COMMAND` shows a command's options and examples."
)]
struct Cli {
    /// Print the version, with the ONNX Runtime version and the library it was found in
    #[arg(short = 'V', long)]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Clone)]
struct EffectArgs {
    /// Blend with the input: 0 = the input, 1 = fully stylized
    #[arg(long, default_value_t = 1.0)]
    strength: f32,
    /// Keep the input's colours: take only the luminance (the strokes) from the style
    #[arg(long)]
    preserve_color: bool,
}

impl EffectArgs {
    fn effects(&self) -> Result<stylize::Effects> {
        if !(0.0..=1.0).contains(&self.strength) {
            bail!("--strength {} is out of range; use 0 (the input) to 1 (fully stylized)", self.strength);
        }
        Ok(stylize::Effects { strength: self.strength, preserve_color: self.preserve_color })
    }
}

#[derive(Subcommand)]
enum Command {
    /// Stylize images (PNG/JPEG; any size, EXIF orientation respected)
    #[command(after_help = "Examples:\n  stylize image -m candy photo.jpg -o photo-candy.png\n  stylize image -m onnx/mosaic.onnx a.jpg b.png photos/ -o out_dir/\n  stylize image -m styles4-lite --style-mix candy=0.7,mosaic=0.3 photo.jpg")]
    Image {
        /// Model: a path to an .onnx file or the name of one in onnx/
        #[arg(short, long)]
        model: String,
        /// Input images, or folders of them (PNG/JPEG)
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Output file (one input) or directory (NAME-MODEL.png/.jpg); the format follows the extension
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Leave out inputs whose output already exists (to rerun a batch)
        #[arg(long)]
        skip_existing: bool,
        #[command(flatten)]
        effects: EffectArgs,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Stylize a video file (audio, frame rate, rotation, colours and metadata kept)
    #[cfg(feature = "video")]
    #[command(after_help = "Examples:\n  stylize video -m candy clip.mp4 -o clip-candy.mp4\n  stylize video -m candy clip.mp4 -o small.mp4 --scale 0.5 --crf 20 --codec libx264 --preset veryfast\n  stylize video -m candy-lite a.mp4 b.mkv clips/ -o out_dir/ --skip-existing")]
    Video {
        #[arg(short, long, required_unless_present = "plan")]
        model: Option<String>,
        /// Input video, or several, or folders of them (then -o is a folder: NAME-MODEL.mp4/.mkv/.mov)
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(short, long, required_unless_present = "plan")]
        output: Option<PathBuf>,
        #[command(flatten)]
        video: VideoArgs,
        #[command(flatten)]
        effects: EffectArgs,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Join segments made with `stylize video --segment K/N` (any order) into one video, with the source's audio
    #[cfg(feature = "video")]
    #[command(after_help = "Examples:\n  stylize video --plan 8 film.mp4\n  stylize video -m candy film.mp4 --segment 3/8 -o seg-3.mp4\n  stylize join seg-*.mp4 --audio-from film.mp4 -o film-candy.mp4")]
    Join {
        /// The segment files
        #[arg(required = true)]
        segments: Vec<PathBuf>,
        /// The video the segments were cut from: its audio, metadata and rotation go into the output
        #[arg(long)]
        audio_from: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Stylize the bundled demo clip with the default model into demo_out.mp4
    #[cfg(feature = "video")]
    #[command(after_help = "Examples:\n  stylize demo\n  stylize demo -m candy --scale 1")]
    Demo {
        #[arg(short, long, default_value = models::DEFAULT_MODEL)]
        model: String,
        #[arg(short, long, default_value = "demo_out.mp4")]
        output: PathBuf,
        #[command(flatten)]
        video: VideoArgs,
        #[command(flatten)]
        effects: EffectArgs,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Temporal instability: how much the stylized video changes between frames where the input stood still
    #[cfg(feature = "video")]
    #[command(after_help = "Examples:\n  stylize flicker -m candy clip.mp4")]
    Flicker {
        #[arg(short, long, default_value = models::DEFAULT_MODEL)]
        model: String,
        input: PathBuf,
        /// Frames to measure (from the start)
        #[arg(long, default_value_t = 120)]
        frames: usize,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Stylize a webcam, a video file or a test pattern live in a window
    #[cfg(feature = "live")]
    #[command(after_help = "Examples:\n  stylize live -m candy\n  stylize live -m candy -m mosaic --camera 1 --size 1280x720\n  stylize live -m candy --input clip.mp4 --loop\n  stylize live -m candy --input test --no-window --frames 100 -v\n  stylize live --list-cameras")]
    Live(stylize::live::LiveArgs),
    /// Serve a web page: the live stylizer for a browser's webcam, and image/video uploads (127.0.0.1 by default)
    #[cfg(feature = "serve")]
    #[command(after_help = "Examples:\n  stylize serve -m candy-lite -m mosaic-lite                  # http://127.0.0.1:8080/\n  stylize serve -m candy --bind 0.0.0.0:8080 --token-file ~/.stylize-token\n  stylize serve -m styles4-lite --max-frame 640x360 --max-fps 15 --jobs 2\n\nAny address but loopback needs a token; open the page as http://HOST:8080/?token=TOKEN.")]
    Serve(stylize::serve::ServeArgs),
    /// List the installed models with their model-card summaries, and where models are looked for
    #[command(after_help = "Examples:\n  stylize models\n  stylize models --models-dir ~/my-styles")]
    Models {
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// ONNX Runtime version, library path and execution providers; a model's inputs, outputs and metadata
    #[command(after_help = "Examples:\n  stylize info\n  stylize info -m candy")]
    Info {
        #[arg(short, long)]
        model: Option<String>,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Time the engine alone on synthetic frames (ms per frame and fps per size)
    #[command(after_help = "Examples:\n  stylize bench -m candy --sizes 256x256,640x360,1280x720\n  stylize bench -m candy-lite --input clip.mp4")]
    Bench {
        #[arg(short, long)]
        model: String,
        /// Frame sizes, WxH, comma separated
        #[arg(long, default_value = "640x360", value_delimiter = ',', value_parser = parse_size)]
        sizes: Vec<(u32, u32)>,
        /// Timed frames per size (after 2 warm-up frames)
        #[arg(long, default_value_t = 10)]
        frames: usize,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
        /// Time session runs alone: the input bound once (in GPU memory on CUDA/TensorRT) and the output
        /// left where the session writes it; no host copies or conversions per frame
        #[arg(long)]
        resident: bool,
        /// Time on the decoded frames of this video (at its own size) instead of synthetic frames
        #[cfg(feature = "video")]
        #[arg(long, conflicts_with = "sizes")]
        input: Option<PathBuf>,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// Shell completions for bash, zsh, fish, elvish or powershell, on standard output
    #[command(after_help = "Examples:\n  stylize completions bash > ~/.local/share/bash-completion/completions/stylize\n  stylize completions fish > ~/.config/fish/completions/stylize.fish")]
    Completions { shell: clap_complete::Shell },
    /// Write the manual pages (stylize.1 and one per command) into a folder
    #[command(hide = true)]
    Man { dir: PathBuf },
}

#[cfg(feature = "video")]
#[derive(Args, Clone)]
struct VideoArgs {
    /// Output size WxH (odd sides are rounded down to even)
    #[arg(long, value_parser = parse_size, conflicts_with = "scale")]
    size: Option<(u32, u32)>,
    /// Output size as a factor of the input's (e.g. 0.5)
    #[arg(long)]
    scale: Option<f64>,
    /// H.264 constant rate factor (x264/x265)
    #[arg(long, default_value_t = 18)]
    crf: u8,
    /// FFmpeg encoder (default libx264, else mpeg4)
    #[arg(long)]
    codec: Option<String>,
    /// x264 preset; auto picks the slowest (smallest files) that does not slow the stylizer down:
    /// ultrafast for real-time models on the CPU, veryfast for the full nets
    #[arg(long, default_value = "auto", value_parser = ["auto", "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"])]
    preset: String,
    /// On a corrupt input keep the frames before the damage (as NAME.partial.EXT)
    #[arg(long)]
    keep_partial: bool,
    /// Stop after this many frames
    #[arg(long)]
    frames: Option<u64>,
    /// Print how the input splits into N keyframe-aligned segments (index, start, end, frames), then exit
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    plan: Option<u64>,
    /// With --plan: JSON for schedulers
    #[arg(long, requires = "plan")]
    json: bool,
    /// Stylize only segment K of N (K from 0; see --plan) into -o, for `stylize join`
    #[arg(long, value_name = "K/N", value_parser = stylize::segment::parse_segment, conflicts_with = "plan")]
    segment: Option<(usize, usize)>,
    /// Stop after this many seconds of input (a live stream otherwise runs until Ctrl-C)
    #[arg(long)]
    duration: Option<f64>,
    /// Frame rate of an image-sequence input (frames/%05d.png; default 25)
    #[arg(long)]
    fps: Option<f64>,
    /// Stream outputs (rtmp://, srt://, udp://): bit rate in kbit/s (default: about 0.15 bits per pixel per frame)
    #[arg(long, value_parser = clap::value_parser!(u32).range(50..=200_000))]
    bitrate: Option<u32>,
    /// Stream outputs: seconds between keyframes
    #[arg(long, default_value_t = 2.0)]
    keyframe_seconds: f32,
    /// Batches: leave out inputs whose output already exists (to rerun a batch)
    #[arg(long)]
    skip_existing: bool,
    /// MP4/MOV: leave the index at the end (by default it goes first, so browsers play the file while it loads)
    #[arg(long)]
    no_faststart: bool,
    /// Frames stylized at once, each by its own copy of the model with a share of the threads (default: 2 on
    /// a CPU with 2 or more cores for frames up to 1080p, else 1)
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
    parallel_frames: Option<usize>,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("size {s:?} is not WxH (e.g. 640x360)"))?;
    let w: u32 = w.trim().parse().map_err(|_| format!("bad width in {s:?}"))?;
    let h: u32 = h.trim().parse().map_err(|_| format!("bad height in {s:?}"))?;
    if w == 0 || h == 0 || w > 16384 || h > 16384 {
        return Err(format!("size {s:?} out of range (1..16384)"));
    }
    Ok((w, h))
}

fn main() -> ExitCode {
    // `stylize models | head` ends quietly, as Unix tools do (Rust ignores SIGPIPE, and println! would panic).
    // SAFETY: called first, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Before anything slow: Ctrl-C, SIGTERM and SIGHUP stop every command cleanly.
    stylize::stop::catch_signals();
    let cli = Cli::parse();
    let result = run(cli);
    if let Err(e) = &result {
        eprintln!("error: {e:#}");
    }
    match (stylize::stop::unhandled(), result) {
        // Stopped by a signal (cleanly: recordings kept, unfinished outputs removed): 128 + its number.
        (Some(sig), _) => ExitCode::from(stylize::stop::exit_code(sig) as u8),
        (None, Ok(())) => ExitCode::SUCCESS,
        (None, Err(_)) => ExitCode::FAILURE,
    }
}

fn run(cli: Cli) -> Result<()> {
    if cli.version {
        return version();
    }
    let Some(command) = cli.command else {
        Cli::command().print_help()?;
        return Ok(());
    };
    match command {
        Command::Image { model, inputs, output, skip_existing, effects, engine } => image_cmd(&model, &inputs, output.as_deref(), skip_existing, effects.effects()?, &engine.for_photos()),
        #[cfg(feature = "video")]
        Command::Video { model, inputs, output, video, effects, engine } => match (video.plan, model, output) {
            (Some(n), _, _) => plan_cmd(&inputs, n, video.json),
            (None, Some(model), Some(output)) => video_cmd(&model, &inputs, &output, &video, effects.effects()?, &engine.for_frame_streams()),
            _ => unreachable!("clap requires -m and -o without --plan"),
        },
        #[cfg(feature = "video")]
        Command::Join { segments, audio_from, output } => {
            let joined = stylize::segment::join(&segments, &audio_from, &output)?;
            println!("joined {} segments into {}: {} frames, {} audio packets from {}", joined.segments, joined.output.display(), joined.frames, joined.audio_packets, audio_from.display());
            Ok(())
        }
        #[cfg(feature = "video")]
        Command::Demo { model, output, mut video, effects, engine } => {
            // Half size keeps the demo to a minute or two on a laptop CPU; --scale 1 for the full 1280x720.
            if video.size.is_none() && video.scale.is_none() {
                video.scale = Some(0.5);
            }
            let input = demo_clip().context("the bundled demo clip (bigbuckbunny.mp4) is missing: it comes with the checkout (assets/) and with scripts/setup.sh install")?;
            video_cmd(&model, std::slice::from_ref(&input), &output, &video, effects.effects()?, &engine.for_frame_streams())?;
            println!("demo: wrote {} (stylized {} with its audio)", output.display(), input.display());
            Ok(())
        }
        #[cfg(feature = "video")]
        Command::Flicker { model, input, frames, engine } => flicker_cmd(&model, &input, frames, &engine.for_frame_streams()),
        #[cfg(feature = "live")]
        Command::Live(mut args) => {
            args.engine = args.engine.for_frame_streams();
            Ok(stylize::live::run(args)?)
        }
        #[cfg(feature = "serve")]
        Command::Serve(mut args) => {
            args.engine = args.engine.for_frame_streams();
            Ok(stylize::serve::run(args)?)
        }
        Command::Models { engine } => models_cmd(&engine),
        Command::Info { model, engine } => info_cmd(model.as_deref(), &engine),
        #[cfg(feature = "video")]
        Command::Bench { model, input: Some(input), frames, json, resident, engine, .. } => {
            let clip = decode_all(&input, frames + 2)?;
            bench_cmd(&model, BenchFrames::Clip(clip), frames, json, resident, &bench_engine(engine, resident))
        }
        Command::Bench { model, sizes, frames, json, resident, engine, .. } => bench_cmd(&model, BenchFrames::Synthetic(sizes), frames, json, resident, &bench_engine(engine, resident)),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "stylize", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { dir } => man_pages(&dir),
    }
}

/// `stylize --version`: ours, and the ONNX Runtime we would use (or why there is none).
fn version() -> Result<()> {
    println!("stylize {}", env!("CARGO_PKG_VERSION"));
    match engine::ort_environment(None) {
        Ok((_, lib)) => println!("ONNX Runtime {} ({})", engine::ort_version(&lib), lib.display()),
        Err(e) => println!("ONNX Runtime: {e}"),
    }
    Ok(())
}

/// stylize.1 and stylize-COMMAND.1 for each visible command.
fn man_pages(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cmd = Cli::command();
    let write = |name: String, cmd: clap::Command| -> Result<()> {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut buf)?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, buf).with_context(|| format!("writing {}", path.display()))
    };
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("stylize-{}", sub.get_name());
        write(name.clone(), sub.clone().name(name))?;
    }
    write("stylize".into(), cmd)
}

#[cfg(feature = "video")]
fn flicker_cmd(model: &str, input: &Path, frames: usize, args: &EngineArgs) -> Result<()> {
    let source = stylize::decode::VideoSource::open(input, Default::default())?;
    let mut engine = args.load(model)?;
    let (tx, rx) = crossbeam_channel::bounded(4);
    let (_pool_tx, pool_rx) = crossbeam_channel::bounded(1);
    let decoder = std::thread::spawn(move || source.run(&tx, &pool_rx));
    let pb = stylize::progress::frames_bar(Some(frames as u64), args.quiet);
    let mut meter = stylize::flicker::FlickerMeter::default();
    let mut styled = Frame::new(0, 0);
    for frame in rx.iter().filter_map(|item| match item {
        stylize::decode::Item::Video { frame, .. } => Some(frame),
        _ => None,
    }).take(frames) {
        styled.resize(frame.width, frame.height);
        styled.data.copy_from_slice(&frame.data);
        engine.stylize(&mut styled)?;
        meter.push(&frame, &styled);
        pb.inc(1);
    }
    drop(rx);
    let _ = decoder.join();
    pb.finish_and_clear();
    let r = meter.result();
    if r.pairs == 0 {
        bail!("{} has fewer than two video frames: nothing to compare", input.display());
    }
    println!(
        "flicker: {:.2} grey levels of output change per still pixel (input: {:.2}; ratio {:.1}), {:.0} % of pixels still, {} frame pairs, {}",
        r.output_change,
        r.input_change,
        r.output_change / r.input_change.max(1e-6),
        r.still_share * 100.0,
        r.pairs,
        model
    );
    Ok(())
}

fn image_cmd(model: &str, inputs: &[PathBuf], output: Option<&Path>, skip_existing: bool, effects: stylize::Effects, args: &EngineArgs) -> Result<()> {
    let files = batch::expand(inputs, batch::IMAGE_EXTENSIONS)?;
    let is_batch = files.len() > 1 || inputs.iter().any(|p| p.is_dir());
    // Fail on a bad output before the (slow) model load.
    let out_is_dir = output.is_some_and(batch::is_folder);
    if let Some(o) = output.filter(|_| is_batch && !out_is_dir) {
        bail!("{} inputs need an output directory, and {} is not one", files.len(), o.display());
    }
    if let Some(o) = output.filter(|_| !out_is_dir) {
        images::output_format(o)?;
    }
    if let Some(o) = output.filter(|_| out_is_dir) {
        if !o.is_dir() {
            bail!("output directory {} does not exist; create it first", o.display());
        }
    }
    let mut engine = args.load(model)?;
    let style = Path::new(model).file_stem().unwrap_or_default().to_string_lossy().to_string();
    let mut report = batch::Report::default();
    for input in &files {
        if stylize::stop::interrupted() {
            return Err(report.stopped(files.len(), "images").into());
        }
        let dest = match output {
            Some(o) if !out_is_dir => o.to_path_buf(),
            dir => {
                let ext = match input.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).as_deref() {
                    Some("jpg" | "jpeg") => "jpg",
                    _ => "png",
                };
                batch::output_in(dir.unwrap_or(Path::new(".")), input, &style, ext)
            }
        };
        if skip_existing && dest.exists() {
            report.skip(input, &dest);
            continue;
        }
        match stylize_image(&mut engine, input, &dest, effects, args) {
            Ok(line) => {
                report.done += 1;
                println!("{line}");
            }
            Err(_) if stylize::stop::interrupted() => return Err(report.stopped(files.len(), "images").into()),
            Err(e) if !is_batch => return Err(e),
            Err(e) => report.fail(input, format!("{e:#}")),
        }
    }
    if is_batch {
        println!("{}", report.line("image"));
    }
    Ok(report.result("images")?)
}

/// One image through the engine into `dest`; the line to print.
fn stylize_image(engine: &mut engine::Engine, input: &Path, dest: &Path, effects: stylize::Effects, args: &EngineArgs) -> Result<String> {
    let loaded = images::load(input)?;
    let original: Frame = loaded.frame;
    let mut frame = original.clone();
    let t = Instant::now();
    engine.stylize(&mut frame).with_context(|| format!("stylizing {}", input.display()))?;
    if stylize::stop::interrupted() {
        bail!("interrupted");
    }
    effects.apply(&original, &mut frame);
    let took = t.elapsed();
    images::save_with_profile(&frame, dest, &[input], loaded.icc_profile.as_deref())?;
    if !args.quiet {
        for note in &loaded.notes {
            eprintln!("note: {}: {note}", input.display());
        }
    }
    let tiled = engine.tiling_note().map(|t| format!("; {t}")).unwrap_or_default();
    Ok(format!("{} -> {} ({}x{}, {:.0} ms{tiled})", input.display(), dest.display(), frame.width, frame.height, took.as_secs_f64() * 1e3))
}

/// `stylize video --plan N`: the segments a job system would run.
#[cfg(feature = "video")]
fn plan_cmd(inputs: &[PathBuf], n: u64, json: bool) -> Result<()> {
    let [input] = inputs else { bail!("--plan takes one input ({} given)", inputs.len()) };
    let plan = stylize::segment::plan(input, n as usize)?;
    print!("{}", plan.render(json));
    if json {
        println!();
    }
    if plan.segments.len() < n as usize {
        eprintln!("note: {} has {} keyframes: {} segments instead of {n}", input.display(), plan.keyframes, plan.segments.len());
    }
    Ok(())
}

/// `stylize video`: one file into `output`, or many files and folders into the folder `output` with the model
/// loaded once (a broken file is reported and the others go on).
#[cfg(feature = "video")]
fn video_cmd(model: &str, inputs: &[PathBuf], output: &Path, video: &VideoArgs, effects: stylize::Effects, args: &EngineArgs) -> Result<()> {
    let files = batch::expand(inputs, batch::VIDEO_EXTENSIONS)?;
    let is_batch = files.len() > 1 || inputs.iter().any(|p| p.is_dir());
    if video.segment.is_some() && is_batch {
        bail!("--segment takes one input ({} given)", files.len());
    }
    let plan = match video.segment {
        Some((k, n)) => {
            let plan = stylize::segment::plan(&files[0], n)?;
            if k >= plan.segments.len() {
                // A job system started N workers; this one has nothing to do, which is not an error.
                println!("segment {k}/{n} is empty: {} cuts into {} segments at its {} keyframes; nothing written", files[0].display(), plan.segments.len(), plan.keyframes);
                return Ok(());
            }
            Some((plan, k))
        }
        None => None,
    };
    if is_batch && !batch::is_folder(output) {
        bail!("{} inputs need an output folder (-o out_dir/), and {} is not one", files.len(), output.display());
    }
    if is_batch && !output.is_dir() {
        bail!("output directory {} does not exist; create it first", output.display());
    }
    let style = Path::new(model).file_stem().unwrap_or_default().to_string_lossy().to_string();
    // Engines for frames up to 1080p (several at once) and above (one at a time), loaded on first use.
    let mut engines: [Option<Vec<engine::Engine>>; 2] = [None, None];
    let mut report = batch::Report::default();
    let start = Instant::now();
    for input in &files {
        if stylize::stop::interrupted() {
            return Err(report.stopped(files.len(), "videos").into());
        }
        let dest = if is_batch { batch::output_in(output, input, &style, batch::video_extension(input)) } else { output.to_path_buf() };
        if video.skip_existing && dest.exists() {
            report.skip(input, &dest);
            continue;
        }
        match transcode_file(model, input, &dest, video, effects, args, &mut engines, plan.as_ref()) {
            Ok(summary) => {
                report.done += 1;
                if !args.quiet {
                    for note in &summary.notes {
                        eprintln!("note: {}: {note}", input.display());
                    }
                }
                println!("{} -> {}: {}", input.display(), summary.output.display(), summary.line());
            }
            Err(e) if !is_batch || stylize::stop::interrupted() => return Err(e),
            Err(e) => report.fail(input, format!("{e:#}")),
        }
    }
    if is_batch {
        println!("{} in {:.1} s", report.line("video"), start.elapsed().as_secs_f64());
    }
    Ok(report.result("videos")?)
}

#[cfg(feature = "video")]
#[allow(clippy::too_many_arguments)]
fn transcode_file(
    model: &str,
    input: &Path,
    output: &Path,
    video: &VideoArgs,
    effects: stylize::Effects,
    args: &EngineArgs,
    engines: &mut [Option<Vec<engine::Engine>>; 2],
    segment: Option<&(stylize::segment::Plan, usize)>,
) -> Result<stylize::pipeline::Summary> {
    use stylize::decode::{InputOptions, SizeRequest, VideoSource};
    use stylize::encode::{EncodeOptions, StreamOptions};
    use stylize::pipeline::{transcode, TranscodeOptions};
    use stylize::stream;
    let plain_file = |p: &Path| !stream::is_url(&p.to_string_lossy()) && !stream::is_sequence(p);
    if plain_file(input) && !input.exists() {
        bail!("input {} not found", input.display());
    }
    if plain_file(input) && plain_file(output) {
        stylize::output::check_not_input(output, &[input])?;
    }
    let mut source = VideoSource::open_with(input, SizeRequest { scale: video.scale, size: video.size }, InputOptions { sequence_fps: video.fps, ..Default::default() })?;
    let mut metadata = Vec::new();
    let mut preset = video.preset.clone();
    if let Some((plan, k)) = segment {
        let seg = &plan.segments[*k];
        source.set_range(seg.start, seg.end, seg.frames)?;
        let style = Path::new(model).file_stem().unwrap_or_default().to_string_lossy().to_string();
        metadata = stylize::segment::segment_metadata(plan, seg, input, &style);
        // Segments stylized on different machines must be encoded alike to be joined without re-encoding.
        if preset == stylize::encode::AUTO_PRESET {
            preset = "veryfast".into();
        }
    }
    let by_duration = video.duration.map(|d| (d * f64::from(source.info().frame_rate)).ceil().max(1.0) as u64);
    let max_frames = match (video.frames, by_duration) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    // Each frame stylized at once holds its own activations (the full net: ~1.8 GB at 1920x1080), so frames
    // larger than 1080p go one at a time unless asked otherwise.
    let (width, height) = (source.info().out_width, source.info().out_height);
    let big = u64::from(width) * u64::from(height) > 1920 * 1088 && video.parallel_frames.is_none();
    let slot = &mut engines[usize::from(big)];
    if slot.is_none() {
        *slot = Some(args.load_stylizers(model, video.parallel_frames.or(big.then_some(1)))?);
    }
    let opts = TranscodeOptions {
        encode: EncodeOptions { codec: video.codec.clone(), crf: video.crf, preset, faststart: !video.no_faststart, metadata, ..EncodeOptions::default() },
        keep_partial: video.keep_partial,
        quiet: args.quiet,
        max_frames,
        effects,
        stream: StreamOptions { bitrate_kbps: video.bitrate, keyframe_seconds: video.keyframe_seconds },
    };
    Ok(transcode(slot.as_mut().expect("loaded above"), source, output, &opts)?)
}

/// The clip `stylize demo` uses: assets/ in the working directory or the checkout the binary was built in.
#[cfg(feature = "video")]
fn demo_clip() -> Option<PathBuf> {
    let rel = Path::new("assets/bigbuckbunny.mp4");
    let exe = std::env::current_exe().ok()?;
    let in_checkout = std::iter::once(rel.to_path_buf()).chain(exe.ancestors().skip(1).take(3).map(|d| d.join(rel))).find(|p| p.is_file());
    models::installed_file("bigbuckbunny.mp4").or(in_checkout)
}

fn models_cmd(args: &EngineArgs) -> Result<()> {
    let extra = args.models_dir.as_deref();
    let list = models::list(extra);
    for m in &list {
        match &m.broken {
            None => println!("{:<26} {}  {}", m.name, m.path.display(), m.summary.as_deref().unwrap_or("(no model card)")),
            Some(why) => println!("{:<26} {}  BROKEN: {why}", m.name, m.path.display()),
        }
    }
    println!("\nlooked in:");
    print_search_path(extra);
    if list.iter().all(|m| m.broken.is_some()) {
        bail!("no usable models found; pass --models-dir, run scripts/setup.sh install, or train one with stylize-train");
    }
    Ok(())
}

/// The model folders, in the order they are searched, with what each is and how many models it has.
fn print_search_path(extra: Option<&Path>) {
    for (what, dir) in models::search_path(extra) {
        match models::model_files(&dir).map(|f| f.len()) {
            Ok(n) => println!("  {:<15} {} ({n} models)", what, dir.display()),
            Err(_) => println!("  {:<15} {} (not there)", what, dir.display()),
        }
    }
}

fn info_cmd(model: Option<&str>, args: &EngineArgs) -> Result<()> {
    let (_, lib) = engine::ort_environment(args.ort_lib.as_deref())?;
    println!("stylize {}", env!("CARGO_PKG_VERSION"));
    println!("ONNX Runtime {}: {}", engine::ort_version(&lib), lib.display());
    println!("  {}", ort::info());
    println!("  looked in: {}", engine::ort_library_candidates(args.ort_lib.as_deref()).iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
    match engine::ov::load_library(args.openvino_lib.as_deref()).and_then(|lib| Ok((lib, engine::ov::available_devices(args.openvino_lib.as_deref())?))) {
        Ok((lib, devices)) => println!("OpenVINO {}: {} (devices: {}; --device openvino)", engine::ov::version(&lib), lib.display(), devices.join(", ")),
        Err(e) => println!("OpenVINO: unavailable: {e}"),
    }
    println!("models:");
    print_search_path(args.models_dir.as_deref());
    println!("execution providers:");
    for (name, status) in engine::provider_status() {
        match status {
            Ok(()) => println!("  {name:<9} available"),
            Err(why) => println!("  {name:<9} unavailable: {why}"),
        }
    }
    if let Some(model) = model {
        let engine = args.load(model)?;
        let info = engine.info();
        println!("model {}", info.path.display());
        println!("  device:  {}", engine.device().name());
        println!("  {}", engine.io_line());
        println!("  input:   {} (float32 NCHW RGB, 0..{})", info.input, info.range_max);
        println!("  output:  {}", info.output);
        println!("  sizes:   {}", info.size_policy());
        for (name, shape) in &info.extra_inputs {
            println!("  extra input: {name} {shape:?}");
        }
        let styles = engine.style_names();
        if !styles.is_empty() {
            println!("  styles:  {} (blend with --style-mix, e.g. {}=0.5,{}=0.5)", styles.join(", "), styles[0], styles[styles.len() - 1]);
        }
        for (k, v) in &info.metadata {
            println!("  {k} = {v}");
        }
    }
    Ok(())
}

/// The frames `stylize bench` times: synthetic ones per size, or a decoded clip.
enum BenchFrames {
    Synthetic(Vec<(u32, u32)>),
    #[cfg_attr(not(feature = "video"), allow(dead_code))]
    Clip(Vec<Frame>),
}

/// Decodes up to `max` frames of a video into memory.
#[cfg(feature = "video")]
fn decode_all(input: &Path, max: usize) -> Result<Vec<Frame>> {
    let source = stylize::decode::VideoSource::open(input, Default::default())?;
    let (tx, rx) = crossbeam_channel::bounded(max);
    let (_pool_tx, pool_rx) = crossbeam_channel::bounded(1);
    let decoder = std::thread::spawn(move || source.run(&tx, &pool_rx));
    let frames: Vec<Frame> = rx
        .iter()
        .filter_map(|item| match item {
            stylize::decode::Item::Video { frame, .. } => Some(frame),
            _ => None,
        })
        .take(max)
        .collect();
    drop(rx);
    let _ = decoder.join();
    if frames.is_empty() {
        bail!("{} has no video frames", input.display());
    }
    Ok(frames)
}

/// `bench` measures the video path, except that `--resident` times ONNX Runtime sessions.
fn bench_engine(engine: EngineArgs, resident: bool) -> EngineArgs {
    if resident {
        engine
    } else {
        engine.for_frame_streams()
    }
}

fn bench_cmd(model: &str, input: BenchFrames, frames: usize, json: bool, resident: bool, args: &EngineArgs) -> Result<()> {
    let mut engine = args.load(model)?;
    let mut rows = Vec::new();
    let mut placement = None;
    let sets: Vec<Vec<Frame>> = match input {
        BenchFrames::Clip(clip) => vec![clip],
        BenchFrames::Synthetic(sizes) => sizes
            .iter()
            .map(|&(w, h)| {
                // A gradient with some texture, so the network has something to do.
                let mut frame = Frame::new(w as usize, h as usize);
                for (i, px) in frame.data.chunks_exact_mut(3).enumerate() {
                    let (x, y) = (i % w as usize, i / w as usize);
                    px.copy_from_slice(&[(x * 255 / w as usize) as u8, (y * 255 / h as usize) as u8, ((x ^ y) & 0xff) as u8]);
                }
                vec![frame]
            })
            .collect(),
    };
    for set in sets {
        let (w, h) = (set[0].width, set[0].height);
        let mut frame = set[0].clone();
        let mut times = Vec::with_capacity(frames);
        if resident {
            // One frame bound once; each timed run is the session alone.
            placement = Some(engine.bind_resident(&frame, None)?);
            for _ in 0..2 {
                engine.run_resident()?;
            }
            for _ in 0..frames.max(1) {
                let t = Instant::now();
                engine.run_resident()?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            rows.push(summarize(w, h, times));
            continue;
        }
        for i in 0..2 {
            frame.data.copy_from_slice(&set[i % set.len()].data);
            engine.stylize(&mut frame)?;
        }
        for i in 0..frames.max(1) {
            if stylize::stop::interrupted() {
                return Err(stylize::Error::Interrupted(format!(" after {} timed frames at {w}x{h}", times.len())).into());
            }
            frame.data.copy_from_slice(&set[(i + 2) % set.len()].data);
            let t = Instant::now();
            engine.stylize(&mut frame)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        rows.push(summarize(w, h, times));
    }
    let mode = match placement {
        None => "engine only".to_string(),
        Some(Residence::Cuda) => "resident (session runs only; input bound once in CUDA memory, output in CUDA memory)".to_string(),
        Some(Residence::Host) => "resident (session runs only; input bound once in host memory, output in host memory)".to_string(),
    };
    if json {
        let items: Vec<String> = rows
            .iter()
            .map(|(w, h, p50, p95, mean, fps)| format!("{{\"size\":\"{w}x{h}\",\"p50_ms\":{p50:.3},\"p95_ms\":{p95:.3},\"mean_ms\":{mean:.3},\"fps\":{fps:.3}}}"))
            .collect();
        println!(
            "{{\"model\":{:?},\"device\":\"{}\",\"frame_io\":\"{}\",\"precision\":\"{}\",\"mode\":{:?},\"frames\":{frames},\"warmup\":2,\"results\":[{}]}}",
            model,
            engine.device().name(),
            engine.frame_io().name(),
            engine.precision().name(),
            mode,
            items.join(",")
        );
    } else {
        println!("{mode}, {} on {}, {frames} timed frames per size after 2 warm-up frames", model, engine.device().name());
        println!("{}", engine.io_line());
        println!("{:>11} {:>9} {:>9} {:>9} {:>8}", "size", "p50 ms", "p95 ms", "mean ms", "fps");
        for (w, h, p50, p95, mean, fps) in rows {
            println!("{:>11} {p50:>9.1} {p95:>9.1} {mean:>9.1} {fps:>8.2}", format!("{w}x{h}"));
        }
    }
    Ok(())
}

/// (w, h, p50, p95, mean, fps) of a size's frame times in ms.
fn summarize(w: usize, h: usize, mut times: Vec<f64>) -> (usize, usize, f64, f64, f64, f64) {
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    (w, h, pct(0.5), pct(0.95), mean, 1e3 / mean)
}
