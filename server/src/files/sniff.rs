//! The type of content, from its first bytes only: a client's name or
//! Content-Type never decides it.

/// The MIME type of content starting with `head`.
pub fn mime_of(head: &[u8]) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    if looks_like_text(head) {
        "text/plain".to_owned()
    } else {
        "application/octet-stream".to_owned()
    }
}

/// UTF-8 without NUL bytes; the head may end inside a character.
fn looks_like_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    };
    valid && !head.contains(&0)
}

/// Whether a client's claimed Content-Type contradicts the sniffed type: a
/// claim of an image, audio or video must match that family. Other claims
/// (`application/octet-stream`, what a browser guessed for a document) are
/// ignored, since nothing is decided by them.
pub fn claim_contradicts(claimed: &str, sniffed: &str) -> bool {
    let claimed = claimed.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let family = |mime: &str| mime.split('/').next().unwrap_or_default().to_owned();
    let media = ["image", "audio", "video"];
    let claimed_family = family(&claimed);
    if !media.contains(&claimed_family.as_str()) {
        return false;
    }
    // WebM, Ogg and MP4 hold audio or video alike.
    let container = ["webm", "ogg", "mp4"].iter().any(|c| sniffed.ends_with(&format!("/{c}")));
    let either = claimed_family != "image" && container;
    !(either || family(sniffed) == claimed_family)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(mime_of(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        let padded = |start: &[u8]| [start, &[0u8; 120]].concat();
        assert_eq!(mime_of(&padded(b"\x7fELF\x02\x01\x01")), "application/x-executable");
        assert_eq!(mime_of(&padded(b"MZ\x90\0\x03")), "application/vnd.microsoft.portable-executable");
        assert_eq!(mime_of("hello, 世界".as_bytes()), "text/plain");
        assert_eq!(mime_of(&"世".as_bytes()[..2]), "text/plain", "cut inside a character");
        assert_eq!(mime_of(b"\0\x01\x02\xff"), "application/octet-stream");
    }

    #[test]
    fn media_claims_must_match() {
        assert!(claim_contradicts("image/png", "text/plain"));
        assert!(claim_contradicts("image/png; charset=x", "application/x-executable"));
        assert!(!claim_contradicts("image/jpeg", "image/png"), "the family matches; the bytes decide the type");
        assert!(!claim_contradicts("audio/webm", "video/webm"));
        assert!(!claim_contradicts("application/octet-stream", "image/png"));
        assert!(!claim_contradicts("application/pdf", "application/zip"));
    }
}
