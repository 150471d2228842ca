//! What happens to the text of a message before it is stored: `:shortcodes:`
//! become emoji, then the sensitive-word filter masks or refuses it. The
//! websocket connection calls [`TextPolicy::apply`] once per text message;
//! nicknames, group names, descriptions and file names go through
//! [`TextPolicy::check_name`]. `search_fold` is how search folds text.

pub mod catalog;
pub mod filter;
pub mod fold;
pub mod search_fold;
pub mod shortcodes;

use wire::protocol::ApiError;

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, SystemTime},
};

use arc_swap::ArcSwap;
use clap::ValueEnum;
use tokio::sync::watch;

use filter::Matcher;

/// How often the word list file is checked for changes.
pub const RELOAD_POLL: Duration = Duration::from_secs(2);

const MASKED: &str = "natter_messages_masked_total";
const REFUSED: &str = "natter_messages_refused_total";
const WORDS: &str = "natter_sensitive_words";

/// What to do with a message that holds a listed word.
#[derive(ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SensitivePolicy {
    /// Store it with each character of the word replaced by `*`.
    #[default]
    Mask,
    /// Refuse it: nothing is stored, the sender gets `content_refused`.
    Refuse,
}

/// A message refused by the sensitive-word filter.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the message contains a word that is not allowed here")]
pub struct Refused;

enum Filtered {
    Kept(String),
    Masked(String),
}

impl Filtered {
    fn into_text(self) -> String {
        match self {
            Filtered::Kept(text) | Filtered::Masked(text) => text,
        }
    }
}

/// The shortcode replacement and the current word list, shared by every connection.
pub struct TextPolicy {
    policy: SensitivePolicy,
    words: ArcSwap<Matcher>,
}

impl TextPolicy {
    pub fn new(policy: SensitivePolicy, words: Matcher) -> TextPolicy {
        metrics::describe_counter!(MASKED, "Messages stored with sensitive words masked");
        metrics::describe_counter!(REFUSED, "Messages refused for a sensitive word");
        metrics::describe_gauge!(WORDS, "Words in the sensitive-word list in force");
        metrics::gauge!(WORDS).set(words.len() as f64);
        TextPolicy { policy, words: ArcSwap::from_pointee(words) }
    }

    /// The text to store for `text`, or the refusal.
    pub fn apply(&self, text: &str) -> Result<String, Refused> {
        let filtered = self.filter(shortcodes::replace(text));
        let counter = match &filtered {
            Ok(Filtered::Kept(_)) => None,
            Ok(Filtered::Masked(_)) => Some(MASKED),
            Err(Refused) => Some(REFUSED),
        };
        if let Some(counter) = counter {
            metrics::counter!(counter).increment(1);
        }
        filtered.map(Filtered::into_text)
    }

    /// A nickname, group name, description or file name (already through
    /// its input rule) under the word list, as typed (no shortcodes): stored
    /// masked, or refused as a bad `field`.
    pub fn check_name(&self, name: String, field: &str) -> Result<String, ApiError> {
        match self.filter(name) {
            Ok(filtered) => Ok(filtered.into_text()),
            Err(Refused) => Err(ApiError::invalid(field, "it holds a word that is not allowed here")),
        }
    }

    fn filter(&self, text: String) -> Result<Filtered, Refused> {
        match (self.words.load().mask(&text), self.policy) {
            (None, _) => Ok(Filtered::Kept(text)),
            (Some(masked), SensitivePolicy::Mask) => Ok(Filtered::Masked(masked)),
            (Some(_), SensitivePolicy::Refuse) => Err(Refused),
        }
    }

    /// Puts a new word list in force; messages being checked finish with the old one.
    pub fn replace_words(&self, words: Matcher) {
        metrics::gauge!(WORDS).set(words.len() as f64);
        self.words.store(Arc::new(words));
    }

    /// Checks `path` every [`RELOAD_POLL`] and loads it again when its
    /// modification time or size changed, until `stop` turns true. A list
    /// that cannot be read keeps the one in force, with a warning.
    pub async fn watch(self: Arc<Self>, path: PathBuf, mut stop: watch::Receiver<bool>) {
        let stamp = |path: &PathBuf| -> Option<(SystemTime, u64)> {
            let meta = std::fs::metadata(path).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        };
        let mut seen = stamp(&path);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(RELOAD_POLL) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            let now = stamp(&path);
            if now == seen {
                continue;
            }
            // Warn once per change of a broken file, not on every poll.
            seen = now;
            match Matcher::load(&path) {
                Ok(words) => {
                    tracing::info!(words = words.len(), file = %path.display(), "sensitive-word list reloaded");
                    self.replace_words(words);
                }
                Err(e) => tracing::warn!("keeping the sensitive-word list in force: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(policy: SensitivePolicy, words: &[&str]) -> TextPolicy {
        TextPolicy::new(policy, Matcher::new(words.iter().copied()).unwrap())
    }

    #[test]
    fn replaces_shortcodes_then_filters() {
        let p = policy(SensitivePolicy::Mask, &["darn"]);
        assert_eq!(p.apply("darn :smile:"), Ok("**** 😄".into()));
        assert_eq!(p.apply("fine"), Ok("fine".into()));
        let p = policy(SensitivePolicy::Refuse, &["darn", "😄"]);
        assert_eq!(p.apply("well DARN"), Err(Refused));
        assert_eq!(p.apply("a :smile:"), Err(Refused), "the filter sees the emoji a shortcode became");
        assert_eq!(p.apply("fine"), Ok("fine".into()));
    }

    #[test]
    fn names_are_masked_or_refused_as_typed() {
        let p = policy(SensitivePolicy::Mask, &["darn"]);
        assert_eq!(p.check_name("d a r n :smile:".into(), "name"), Ok("******* :smile:".into()));
        let p = policy(SensitivePolicy::Refuse, &["坏蛋"]);
        assert_eq!(p.check_name("壞蛋".into(), "nickname").unwrap_err().field.as_deref(), Some("nickname"));
        assert_eq!(p.check_name("fine".into(), "nickname"), Ok("fine".into()));
    }

    #[test]
    fn swaps_the_word_list() {
        let p = policy(SensitivePolicy::Mask, &[]);
        assert_eq!(p.apply("darn"), Ok("darn".into()));
        p.replace_words(Matcher::new(["darn"]).unwrap());
        assert_eq!(p.apply("darn"), Ok("****".into()));
    }
}
