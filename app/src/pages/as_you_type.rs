//! Results as one types: a search box asks once typing pauses, and an
//! answer to anything but its latest question is dropped. The message
//! search, the people search and the group directory share it.

use std::time::Duration;

use leptos::prelude::*;

/// How long typing must pause before a search is sent.
const PAUSE: Duration = Duration::from_millis(300);

/// The questions a search box asked, numbered.
#[derive(Clone, Copy)]
pub struct AsYouType {
    asked: StoredValue<u64>,
}

impl AsYouType {
    pub fn new() -> AsYouType {
        AsYouType { asked: StoredValue::new(0) }
    }

    /// The latest question's number: an answer is shown only if
    /// [`AsYouType::is_latest`] still holds for it when it comes.
    pub fn latest(&self) -> u64 {
        self.asked.get_value()
    }

    /// False too once the box is gone (its results closed while one was asked).
    pub fn is_latest(&self, number: u64) -> bool {
        self.asked.try_get_value() == Some(number)
    }

    /// Drops the answers to every question asked so far.
    pub fn forget(&self) {
        self.asked.update_value(|n| *n += 1);
    }

    /// Runs `ask` once typing pauses: unless something else is typed (or
    /// forgotten) within [`PAUSE`].
    pub fn after_pause(&self, ask: impl FnOnce() + 'static) {
        self.forget();
        let (this, number) = (*self, self.latest());
        set_timeout(
            move || {
                if this.is_latest(number) {
                    ask();
                }
            },
            PAUSE,
        );
    }
}
