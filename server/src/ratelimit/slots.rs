//! Uploads each user may have running at once on this node: a count per
//! user, taken by a guard that gives it back however the request ends.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

/// Uploads each user may have running at once on this node. A slot is an
/// [`UploadSlot`] guard: whichever way a request ends (answered, refused,
/// its body broken off, its connection dropped), dropping it gives the slot back.
pub struct UploadSlots {
    max: usize,
    running: Mutex<HashMap<String, usize>>,
}

pub struct UploadSlot {
    slots: Arc<UploadSlots>,
    key: String,
}

impl UploadSlots {
    pub fn new(max: usize) -> Arc<UploadSlots> {
        Arc::new(UploadSlots { max: max.max(1), running: Mutex::default() })
    }

    /// A slot for `key`, or `None` when it holds all of its own.
    pub fn enter(self: &Arc<Self>, key: &str) -> Option<UploadSlot> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let n = running.entry(key.to_owned()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(UploadSlot { slots: self.clone(), key: key.to_owned() })
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut running = self.slots.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = running.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                running.remove(&self.key); // only users uploading now are remembered
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_slots_are_per_user_and_come_back_when_dropped() {
        let slots = UploadSlots::new(2);
        let (first, _second) = (slots.enter("a").unwrap(), slots.enter("a").unwrap());
        assert!(slots.enter("a").is_none(), "both taken");
        assert!(slots.enter("b").is_some(), "other users are not affected");
        drop(first);
        assert!(slots.enter("a").is_some(), "a dropped guard gives its slot back");
        assert!(slots.running.lock().unwrap().get("b").is_none(), "idle users are forgotten");
    }
}
