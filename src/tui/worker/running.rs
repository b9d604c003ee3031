//! Stopping a query that a newer request has made pointless.
//!
//! A worker thread runs one job at a time. On a big registry a filter that finds little
//! (a bare word scans every row) takes a few hundred milliseconds; when the user has typed
//! on meanwhile, its answer is thrown away on arrival, and the newer filter waits behind
//! it. So the runtime stops it with SQLite's interrupt — only while that very job runs:
//! the job is recorded under a lock before it starts and removed after its statements are
//! done, and the interrupt is sent under the same lock, so a write or any other job is
//! never hit.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rusqlite::InterruptHandle;

/// What a worker thread runs now, named by a tag (a filter's sequence number, the
/// filter a count is for). Clones share it: the worker runs, the runtime stops.
pub struct Running<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    /// The worker's connection, set once it is open.
    handle: OnceLock<InterruptHandle>,
    /// The job running now, and whether it was told to stop.
    job: Mutex<Option<(T, bool)>>,
}

impl<T> Clone for Running<T> {
    fn clone(&self) -> Self {
        Running {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Default for Running<T> {
    fn default() -> Self {
        Running {
            inner: Arc::new(Inner {
                handle: OnceLock::new(),
                job: Mutex::new(None),
            }),
        }
    }
}

impl<T> Running<T> {
    /// The connection the jobs run on (the first one given is kept).
    pub fn attach(&self, handle: InterruptHandle) {
        let _ = self.inner.handle.set(handle);
    }

    /// Runs `job` as `tag`: its result, or `None` when it was stopped (its result, an
    /// interrupted error most likely, is of no use to anyone).
    pub fn run<R>(&self, tag: T, job: impl FnOnce() -> R) -> Option<R> {
        *self.lock() = Some((tag, false));
        let result = job();
        let stopped = self.lock().take().is_some_and(|(_, stopped)| stopped);
        (!stopped).then_some(result)
    }

    /// Stops the running job if `pointless` says so of its tag. An interrupt that comes
    /// between two of the job's statements is lost (SQLite clears it when no statement
    /// runs); the job still gives nothing, and the next request asks again.
    pub fn stop_if(&self, pointless: impl FnOnce(&T) -> bool) {
        let mut job = self.lock();
        if let Some((tag, stopped)) = job.as_mut()
            && pointless(tag)
            && let Some(handle) = self.inner.handle.get()
        {
            handle.interrupt();
            *stopped = true;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(T, bool)>> {
        // The slot holds plain data: a panic elsewhere leaves it usable.
        self.inner
            .job
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;
    use std::sync::mpsc;

    /// Never ends on its own.
    const ENDLESS: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
                           SELECT count(*) FROM c";

    /// Starts `ENDLESS` as job `tag` on a thread of its own; returns once it runs.
    fn endless(running: &Running<u64>, tag: u64) -> mpsc::Receiver<Option<bool>> {
        let (tx, rx) = mpsc::channel();
        let (started_tx, started) = mpsc::channel();
        let running = running.clone();
        std::thread::spawn(move || {
            let conn = Connection::open_in_memory().unwrap();
            running.attach(conn.get_interrupt_handle());
            let outcome = running.run(tag, || {
                started_tx.send(()).unwrap();
                conn.query_row(ENDLESS, [], |r| r.get::<_, i64>(0)).is_err()
            });
            tx.send(outcome).unwrap();
        });
        started.recv().unwrap();
        rx
    }

    /// The job has begun its query or is about to: an interrupt sent before the statement
    /// starts is lost, so ask until it ends.
    fn stop_until_done(
        running: &Running<u64>,
        done: &mpsc::Receiver<Option<bool>>,
        pointless: fn(&u64) -> bool,
    ) -> Option<bool> {
        for _ in 0..1_000 {
            running.stop_if(pointless);
            if let Ok(outcome) = done.recv_timeout(std::time::Duration::from_millis(20)) {
                return outcome;
            }
        }
        panic!("the job did not stop");
    }

    #[test]
    fn a_job_made_pointless_is_stopped_and_gives_nothing() {
        let running = Running::default();
        let done = endless(&running, 1);
        let outcome = stop_until_done(&running, &done, |&seq| seq < 2);
        assert_eq!(outcome, None, "a stopped job's result is dropped");
        assert!(running.lock().is_none(), "the slot is free again");
    }

    #[test]
    fn a_job_that_still_matters_runs_on() {
        let running = Running::default();
        let done = endless(&running, 5);
        running.stop_if(|&seq| seq < 5);
        running.stop_if(|&seq| seq < 3);
        assert!(
            matches!(*running.lock(), Some((5, false))),
            "not told to stop"
        );
        // End it, so that the thread finishes.
        assert_eq!(stop_until_done(&running, &done, |_| true), None);
    }

    #[test]
    fn a_job_that_ran_to_the_end_gives_its_result() {
        let running = Running::default();
        let conn = Connection::open_in_memory().unwrap();
        running.attach(conn.get_interrupt_handle());
        let n = running.run(1u64, || {
            conn.query_row("SELECT 41 + 1", [], |r| r.get::<_, i64>(0))
        });
        assert_eq!(n.map(Result::ok), Some(Some(42)));
        // Nothing runs now: asking to stop is a no-op, also for the next statement.
        running.stop_if(|_| true);
        let n = running.run(2u64, || {
            conn.query_row("SELECT 7", [], |r| r.get::<_, i64>(0))
        });
        assert_eq!(n.map(Result::ok), Some(Some(7)));
    }
}
