//! The command line: the commands and their options (clap), and one module per command that runs it and
//! prints what a person reads. The work itself is the library's (`stylize::jobs`, `engine`, `media`, `live`,
//! `serve`); `live` and `serve` are run by their own modules there.

use std::path::PathBuf;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};
use stylize::args::{parse_size, EffectArgs, EngineArgs};
#[cfg(feature = "video")]
use stylize::args::VideoArgs;
#[cfg(feature = "video")]
use stylize::models::DEFAULT_MODEL;

mod bench;
#[cfg(feature = "video")]
mod demo;
#[cfg(feature = "video")]
mod flicker;
mod image;
mod man;
mod models;
#[cfg(feature = "video")]
mod segments;
#[cfg(feature = "video")]
mod video;

#[derive(Parser)]
#[command(
    name = "stylize",
    about = "Paint images, video files and webcams in the style of an artwork",
    disable_version_flag = true,
    arg_required_else_help = true,
    after_help = "Examples:\n  stylize image -m candy photo.jpg -o photo-candy.png\n  stylize video -m candy clip.mp4 -o clip-candy.mp4\n  stylize live -m candy-lite\n  stylize models\n\n`stylize help COMMAND` shows a command's options and examples."
)]
pub struct Cli {
    /// Print the version, with the ONNX Runtime version and the library it was found in
    #[arg(short = 'V', long)]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
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
        #[arg(short, long, default_value = DEFAULT_MODEL)]
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
        #[arg(short, long, default_value = DEFAULT_MODEL)]
        model: String,
        input: PathBuf,
        /// Frames to measure (from the start)
        #[arg(long, default_value_t = 120)]
        frames: usize,
        /// Also measure the output with the temporal stage (on, the default, or smooth) beside the per-frame output
        #[arg(long, default_value = stylize::temporal::DEFAULT_MODE, ignore_case = true)]
        temporal: stylize::temporal::TemporalMode,
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

impl Cli {
    /// Runs the command the user asked for.
    pub fn run(self) -> Result<()> {
        if self.version {
            return models::version();
        }
        let Some(command) = self.command else {
            Cli::command().print_help()?;
            return Ok(());
        };
        command.run()
    }
}

impl Command {
    fn run(self) -> Result<()> {
        match self {
            Command::Image { model, inputs, output, skip_existing, effects, engine } => image::run(&model, &inputs, output.as_deref(), skip_existing, effects.effects()?, &engine.for_photos()),
            #[cfg(feature = "video")]
            Command::Video { model, inputs, output, video, effects, engine } => match (video.plan, model, output) {
                (Some(n), _, _) => segments::plan(&inputs, n, video.json),
                (None, Some(model), Some(output)) => video::run(&model, &inputs, &output, &video, effects.effects()?, &engine.for_frame_streams()),
                _ => unreachable!("clap requires -m and -o without --plan"),
            },
            #[cfg(feature = "video")]
            Command::Join { segments, audio_from, output } => segments::join(&segments, &audio_from, &output),
            #[cfg(feature = "video")]
            Command::Demo { model, output, video, effects, engine } => demo::run(&model, &output, video, effects.effects()?, &engine.for_frame_streams()),
            #[cfg(feature = "video")]
            Command::Flicker { model, input, frames, temporal, engine } => flicker::run(&model, &input, frames, temporal, &engine.for_frame_streams()),
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
            Command::Models { engine } => models::list(&engine),
            Command::Info { model, engine } => models::info(model.as_deref(), &engine),
            #[cfg(feature = "video")]
            Command::Bench { model, input: Some(input), frames, json, resident, engine, .. } => {
                let clip = bench::decode_clip(&input, frames + 2)?;
                bench::run(&model, bench::BenchFrames::Clip(clip), frames, json, resident, &bench::engine_args(engine, resident))
            }
            Command::Bench { model, sizes, frames, json, resident, engine, .. } => bench::run(&model, bench::BenchFrames::Synthetic(sizes), frames, json, resident, &bench::engine_args(engine, resident)),
            Command::Completions { shell } => {
                man::completions(shell);
                Ok(())
            }
            Command::Man { dir } => man::man_pages(&dir),
        }
    }
}
