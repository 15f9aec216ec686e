//! Frames in flight for streams that are not live (files), as `stylize video` has them: each worker thread owns
//! an engine (on a CPU, two of them with half the cores each: parallel single frames scale worse, and suffer
//! more from the other threads of a pipeline); frame k goes to worker k mod n, and comes back in order.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use stylize::{Engine, Frame};

/// What a worker is asked to do, in the order asked: frames sent after a new engine or mix use it.
enum Job {
    Frame(Frame),
    Engine(Box<Engine>),
    Mix(Vec<f32>),
}

struct Worker {
    jobs: Option<Sender<Job>>,
    done: Receiver<(Frame, Result<Duration, String>)>,
    thread: Option<JoinHandle<()>>,
}

const STOPPED: &str = "the inference thread stopped";

impl Worker {
    fn new(mut engine: Engine) -> std::io::Result<Worker> {
        let (jobs, rx) = mpsc::channel::<Job>();
        // One frame at a time: its result is taken before the worker gets another.
        let (tx, done) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new().name("stylize-infer".into()).spawn(move || {
            for job in rx {
                match job {
                    Job::Frame(mut frame) => {
                        let t = Instant::now();
                        let result = engine.stylize(&mut frame).map(|_| t.elapsed()).map_err(|e| e.to_string());
                        if tx.send((frame, result)).is_err() {
                            break;
                        }
                    }
                    Job::Engine(e) => engine = *e,
                    Job::Mix(mix) => {
                        let _ = engine.set_style_mix(&mix);
                    }
                }
            }
        })?;
        Ok(Worker { jobs: Some(jobs), done, thread: Some(thread) })
    }

    fn send(&self, job: Job) -> Result<(), String> {
        self.jobs.as_ref().ok_or(STOPPED)?.send(job).map_err(|_| STOPPED.to_string())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the job queue ends the thread after the frame it may be inferring.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A frame the workers are done with, with what came with it.
pub struct Inferred<T> {
    pub tag: T,
    pub input: Frame,
    pub styled: Frame,
}

/// The workers and the frames in flight; `T` is what travels beside each frame (the element's buffer).
pub struct Ahead<T> {
    workers: Vec<Worker>,
    /// Oldest first: what came with each frame being inferred, and its input (for the effects and the stage).
    inferring: VecDeque<(T, Frame)>,
    sent: usize,
}

impl<T> Ahead<T> {
    /// One worker per engine (at least one engine).
    pub fn new(engines: Vec<Engine>) -> std::io::Result<Ahead<T>> {
        assert!(!engines.is_empty(), "frames in flight need an engine");
        let workers = engines.into_iter().map(Worker::new).collect::<std::io::Result<Vec<_>>>()?;
        Ok(Ahead { workers, inferring: VecDeque::new(), sent: 0 })
    }

    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Every worker has a frame: the next one must wait for the oldest.
    pub fn full(&self) -> bool {
        self.inferring.len() >= self.workers.len()
    }

    /// Sends a frame to the next worker.
    pub fn send(&mut self, tag: T, frame: Frame, input: Frame) -> Result<(), String> {
        let n = self.workers.len();
        self.workers[self.sent % n].send(Job::Frame(frame))?;
        self.sent += 1;
        self.inferring.push_back((tag, input));
        Ok(())
    }

    /// Waits for the oldest frame in flight (None when there is none), with its inference time.
    pub fn wait(&mut self) -> Result<Option<(Inferred<T>, Duration)>, String> {
        let Some((tag, input)) = self.inferring.pop_front() else { return Ok(None) };
        let oldest = self.sent - self.inferring.len() - 1;
        let (styled, took) = self.workers[oldest % self.workers.len()].done.recv().map_err(|_| STOPPED.to_string())?;
        Ok(Some((Inferred { tag, input, styled }, took?)))
    }

    /// Frames sent from now on use this style mix.
    pub fn set_style_mix(&self, mix: &[f32]) -> Result<(), String> {
        self.workers.iter().try_for_each(|w| w.send(Job::Mix(mix.to_vec())))
    }

    /// Frames sent from now on use these engines (one per worker; extra ones are dropped, missing ones keep
    /// their worker's).
    pub fn set_engines(&self, engines: Vec<Engine>) -> Result<(), String> {
        self.workers.iter().zip(engines).try_for_each(|(w, e)| w.send(Job::Engine(Box::new(e))))
    }
}
