//! A bounded number of jobs at once with a short queue behind them: callers
//! beyond the queue are turned away at once instead of piling up.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Gate {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// The gate's slots and queue are all taken.
#[derive(Debug)]
pub struct Full;

impl Gate {
    pub fn new(running: usize, max_waiting: usize) -> Gate {
        Gate { running: Arc::new(Semaphore::new(running.max(1))), waiting: AtomicUsize::new(0), max_waiting }
    }

    /// A slot, held until the permit is dropped (move it into the job, so a
    /// caller that goes away does not free the slot of a job still running).
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, Full> {
        if let Ok(permit) = self.running.clone().try_acquire_owned() {
            return Ok(permit);
        }
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let ahead = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        if ahead >= self.max_waiting {
            return Err(Full);
        }
        Ok(self.running.clone().acquire_owned().await.expect("the semaphore is never closed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_so_many_queues_so_many_and_turns_the_rest_away() {
        let gate = Arc::new(Gate::new(1, 1));
        let first = gate.enter().await.unwrap();
        let queued = tokio::spawn({
            let gate = gate.clone();
            async move { gate.enter().await.map(drop) }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(gate.enter().await.is_err(), "the queue is full");
        drop(first);
        assert!(queued.await.unwrap().is_ok(), "the queued caller gets the slot");
        assert!(gate.enter().await.is_ok(), "a free gate lets in");
    }
}
