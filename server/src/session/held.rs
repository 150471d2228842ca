//! A connection's sends held while this node's readers are behind (see
//! `crate::hub::Pressure`). They wait in order, while the session goes on
//! reading the client's other frames and delivering its events, and go
//! when the node lets them: stored and acked then, or past [`HOLD_LIMIT`]
//! refused with `retry`. At most [`MAX_HELD`] wait per connection; more
//! are refused at once.

use std::{collections::VecDeque, sync::Arc};

use tokio::time::Instant;

use crate::{
    chat::Outgoing,
    hub::{Pressure, HOLD_LIMIT},
};

/// Sends one connection may have waiting.
const MAX_HELD: usize = 32;

pub struct Held {
    queue: VecDeque<(Outgoing, Instant)>,
    pressure: Arc<Pressure>,
}

/// What became of the first held send.
pub enum Turn {
    /// It may be stored now.
    Go(Outgoing),
    /// It waited too long: refuse it.
    Refuse(Outgoing),
}

impl Held {
    pub fn new(pressure: Arc<Pressure>) -> Held {
        Held { queue: VecDeque::new(), pressure }
    }

    /// Whether a send arriving now must wait.
    pub fn must_wait(&self) -> bool {
        !self.queue.is_empty() || self.pressure.must_wait()
    }

    /// Holds a send; gives it back when this connection holds too many.
    pub fn hold(&mut self, send: Outgoing) -> Result<(), Outgoing> {
        if self.queue.len() >= MAX_HELD {
            return Err(send);
        }
        self.pressure.hold();
        self.queue.push_back((send, Instant::now() + HOLD_LIMIT));
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Waits for the first held send's turn, or its deadline. Cancel-safe;
    /// never completes while nothing is held.
    pub async fn next(&mut self) -> Turn {
        let Some((_, deadline)) = self.queue.front() else { return std::future::pending().await };
        let go = self.pressure.turn(*deadline).await;
        let (send, _) = self.queue.pop_front().expect("the first held send is still there");
        self.pressure.let_go(1);
        if go {
            Turn::Go(send)
        } else {
            metrics::counter!("natter_ws_sends_refused_total").increment(1);
            Turn::Refuse(send)
        }
    }
}

impl Drop for Held {
    /// Sends still held when the connection ends are not stored (they were
    /// never acked): the client sends them again.
    fn drop(&mut self) {
        self.pressure.let_go(self.queue.len());
    }
}
