//! `:shortcode:` → emoji, with GitHub's gemoji shortcodes as carried by the
//! `emojis` crate. Unknown shortcodes stay as typed.

/// `text` with every known `:shortcode:` replaced by its emoji.
///
/// A shortcode is a run of ASCII letters, digits, `_`, `+` and `-` between
/// two colons. When a run is not a known shortcode, its closing colon may
/// open the next one, so `:qq:smile:` becomes `:qq😄`.
pub fn replace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(':') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after.bytes().take_while(|&b| is_shortcode_byte(b)).count();
        let closed = name_len > 0 && after.as_bytes().get(name_len) == Some(&b':');
        match closed.then(|| emojis::get_by_shortcode(&after[..name_len])).flatten() {
            Some(emoji) => {
                out.push_str(emoji.as_str());
                rest = &after[name_len + 1..];
            }
            None => {
                out.push(':');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_shortcode_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-')
}

#[cfg(test)]
mod tests {
    use super::replace;

    #[test]
    fn replaces_known_shortcodes() {
        assert_eq!(replace(":smile:"), "😄");
        assert_eq!(replace("hi :wave: there"), "hi 👋 there");
        assert_eq!(replace(":+1: and :-1:"), "👍 and 👎");
        assert_eq!(replace(":cn:"), "🇨🇳");
    }

    #[test]
    fn leaves_unknown_ones_and_plain_colons() {
        assert_eq!(replace(":not_an_emoji:"), ":not_an_emoji:");
        assert_eq!(replace("at 10:30: lunch"), "at 10:30: lunch");
        assert_eq!(replace("ratio 1:2:3"), "ratio 1:2:3");
        assert_eq!(replace("a: b :: c :"), "a: b :: c :");
        assert_eq!(replace(":Smile:"), ":Smile:", "shortcodes are lower case");
        assert_eq!(replace(":smile"), ":smile");
        assert_eq!(replace("https://example.org:8080/:x"), "https://example.org:8080/:x");
        assert_eq!(replace(""), "");
    }

    #[test]
    fn handles_adjacent_shortcodes() {
        assert_eq!(replace(":smile::heart:"), "😄❤️");
        assert_eq!(replace(":qq:smile:"), ":qq😄");
        assert_eq!(replace(":x::qq:"), "❌:qq:");
        assert_eq!(replace(":smile:smile:"), "😄smile:");
    }

    #[test]
    fn keeps_multibyte_text_around() {
        assert_eq!(replace("你好:smile:世界"), "你好😄世界");
        assert_eq!(replace("：smile："), "：smile：", "full-width colons are not shortcode marks");
        assert_eq!(replace("é:heart:ü"), "é❤️ü");
    }

    /// The message length limit is checked before replacement: no shortcode
    /// may grow the text.
    #[test]
    fn no_emoji_is_longer_than_its_shortcode() {
        for emoji in emojis::iter() {
            for code in emoji.shortcodes() {
                assert!(emoji.as_str().chars().count() <= code.len() + 2, ":{code}:");
            }
        }
    }
}
