//! One-frame mailboxes between the live threads (the latest frame wins) and the pool of frame buffers.

use super::*;

/// A one-item mailbox: `put` replaces what is waiting (handing it back, to count and recycle).
pub(super) struct Slot<T> {
    pub(super) state: Mutex<SlotState<T>>,
    pub(super) ready: Condvar,
}

pub(super) struct SlotState<T> {
    pub(super) item: Option<T>,
    /// The producer is done: the consumer takes what is left, then sees `Closed`.
    pub(super) finished: bool,
    /// Shutting down: nothing more goes in or out.
    pub(super) aborted: bool,
}

pub(super) enum Put<T> {
    Stored,
    Replaced(T),
    Refused(T),
}

pub(super) enum Take<T> {
    Item(T),
    Empty,
    Closed,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T> Slot<T> {
    pub(super) fn new() -> Self {
        Slot { state: Mutex::new(SlotState { item: None, finished: false, aborted: false }), ready: Condvar::new() }
    }

    pub(super) fn put(&self, item: T) -> Put<T> {
        let mut s = lock(&self.state);
        if s.aborted || s.finished {
            return Put::Refused(item);
        }
        let old = s.item.replace(item);
        self.ready.notify_one();
        old.map_or(Put::Stored, Put::Replaced)
    }

    pub(super) fn take(&self, timeout: Duration) -> Take<T> {
        let deadline = Instant::now() + timeout;
        let mut s = lock(&self.state);
        loop {
            if s.aborted {
                return Take::Closed;
            }
            if let Some(item) = s.item.take() {
                return Take::Item(item);
            }
            if s.finished {
                return Take::Closed;
            }
            let now = Instant::now();
            if now >= deadline {
                return Take::Empty;
            }
            s = self.ready.wait_timeout(s, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    pub(super) fn finish(&self) {
        lock(&self.state).finished = true;
        self.ready.notify_all();
    }

    pub(super) fn abort(&self) {
        lock(&self.state).aborted = true;
        self.ready.notify_all();
    }

    /// What is still waiting after shutdown (for the accounting).
    pub(super) fn leftover(&self) -> Option<T> {
        lock(&self.state).item.take()
    }
}

/// Frame buffers in circulation: taken by the source and inference, given back by whoever drops a frame.
#[derive(Clone)]
pub(super) struct Pool {
    pub(super) tx: Sender<Frame>,
    pub(super) rx: Receiver<Frame>,
}

impl Pool {
    pub(super) fn new() -> Self {
        let (tx, rx) = bounded(16);
        Pool { tx, rx }
    }

    pub(super) fn get(&self) -> Frame {
        self.rx.try_recv().unwrap_or_else(|_| Frame::new(0, 0))
    }

    pub(super) fn give(&self, frame: Frame) {
        let _ = self.tx.try_send(frame);
    }
}
