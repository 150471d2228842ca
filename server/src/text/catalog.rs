//! `GET /api/emoji`: the picker's emoji list, built once from the `emojis`
//! dataset and served with an ETag, so the wasm bundle does not carry it.

use std::sync::OnceLock;

use axum::{
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use wire::api::{EmojiEntry, EmojiGroup};

/// The newest emoji the served colour font (Twemoji 15) draws.
const NEWEST: emojis::UnicodeVersion = emojis::UnicodeVersion::new(15, 0);
/// Clients may keep the list for a day and revalidate it after.
const CACHE_CONTROL: &str = "public, max-age=86400";

struct Catalog {
    json: String,
    etag: String,
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let json = serde_json::to_string(&entries()).expect("emoji entries serialize");
        let digest = Sha256::digest(json.as_bytes());
        let etag = format!("\"{}\"", digest[..12].iter().map(|b| format!("{b:02x}")).collect::<String>());
        Catalog { json, etag }
    })
}

/// Every emoji up to [`NEWEST`], default skin tone only.
pub fn entries() -> Vec<EmojiEntry> {
    emojis::iter()
        .filter(|e| e.unicode_version() <= NEWEST)
        .map(|e| EmojiEntry {
            emoji: e.as_str().to_owned(),
            name: e.name().to_owned(),
            shortcodes: e.shortcodes().map(str::to_owned).collect(),
            group: group(e.group()),
        })
        .collect()
}

fn group(group: emojis::Group) -> EmojiGroup {
    use emojis::Group::*;
    match group {
        SmileysAndEmotion => EmojiGroup::Smileys,
        PeopleAndBody => EmojiGroup::People,
        AnimalsAndNature => EmojiGroup::Animals,
        FoodAndDrink => EmojiGroup::Food,
        TravelAndPlaces => EmojiGroup::Travel,
        Activities => EmojiGroup::Activities,
        Objects => EmojiGroup::Objects,
        Symbols => EmojiGroup::Symbols,
        Flags => EmojiGroup::Flags,
    }
}

pub async fn serve(headers: HeaderMap) -> Response {
    let catalog = catalog();
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == catalog.etag || t.trim() == "*"));
    let common = [(header::ETAG, catalog.etag.clone()), (header::CACHE_CONTROL, CACHE_CONTROL.to_owned())];
    if cached {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (common, [(header::CONTENT_TYPE, "application/json")], catalog.json.clone()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_group_with_names_and_shortcodes() {
        let list = entries();
        assert!(list.len() > 1500, "{}", list.len());
        for g in EmojiGroup::ALL {
            assert!(list.iter().any(|e| e.group == g), "{g:?}");
        }
        let grinning = list.iter().find(|e| e.emoji == "😀").unwrap();
        assert_eq!((grinning.name.as_str(), grinning.shortcodes.as_slice()), ("grinning face", &["grinning".to_owned()][..]));
    }
}
