//! Answering a download: one byte range when asked (audio and video players
//! seek with them), a `Content-Disposition` name no browser can be tricked
//! by, and caching forever, privately, since content never changes.

use axum::{
    body::Body,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use wire::protocol::ErrorCode;

use crate::{blobs::Stored, error::HttpError};

/// What to send and how to label it.
pub struct Download<'a> {
    /// The bytes, as the blob storage found them; `None` when they are missing.
    pub content: std::io::Result<Option<Box<dyn Stored>>>,
    pub mime: &'a str,
    pub name: &'a str,
    /// Shown in the page (images, audio, video) rather than saved.
    pub inline: bool,
    /// Names the content: the blob's hash, plus a suffix for derived files.
    pub etag: String,
}

/// Streams the content, whole or the one range `Range` asks for; only
/// that range is read from the blob storage, a little at a time.
pub async fn send(download: Download<'_>, request: &HeaderMap) -> Response {
    let content = match download.content {
        Ok(Some(content)) => content,
        Ok(None) => {
            tracing::error!(etag = download.etag, "a recorded file's content is missing");
            return HttpError::new(ErrorCode::Internal, "the file cannot be read").into_response();
        }
        Err(e) => {
            tracing::error!(etag = download.etag, error = %e, "a stored file cannot be opened");
            return HttpError::new(ErrorCode::Internal, "the file cannot be read").into_response();
        }
    };
    let size = content.len();
    let range = request.get(header::RANGE).and_then(|v| v.to_str().ok()).map(|v| parse_range(v, size));
    let (status, start, end) = match range {
        None | Some(Range::Ignored) => (StatusCode::OK, 0, size),
        Some(Range::Bytes(start, end)) => (StatusCode::PARTIAL_CONTENT, start, end),
        Some(Range::Unsatisfiable) => {
            let mut response =
                HttpError::new(ErrorCode::BadRequest, format!("the range lies outside the file's {size} bytes"))
                    .into_response();
            *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            response.headers_mut().insert(header::CONTENT_RANGE, value(&format!("bytes */{size}")));
            return response;
        }
    };
    let body = Body::from_stream(content.read(start, end));
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, value(download.mime));
    headers.insert(header::CONTENT_LENGTH, (end - start).into());
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Opened directly, a file is a sandboxed document: no script of it runs with the app's origin.
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable"));
    headers.insert(header::ETAG, value(&format!("\"{}\"", download.etag)));
    headers.insert(header::CONTENT_DISPOSITION, value(&disposition(download.name, download.inline)));
    if status == StatusCode::PARTIAL_CONTENT {
        headers.insert(header::CONTENT_RANGE, value(&format!("bytes {start}-{}/{size}", end - 1)));
    }
    response
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Bytes `[start, end)`.
    Bytes(u64, u64),
    Unsatisfiable,
    /// Not a single byte range this server honours: send the whole file.
    Ignored,
}

/// Reads `bytes=a-b`, `bytes=a-` or `bytes=-n` against a file of `size` bytes.
fn parse_range(header: &str, size: u64) -> Range {
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return Range::Ignored };
    if spec.contains(',') {
        return Range::Ignored; // several ranges: the whole file is a valid answer
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Range::Ignored };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    let (start, end) = match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, false) => match number(last) {
            Some(0) => return Range::Unsatisfiable,
            Some(n) => (size.saturating_sub(n), size),
            None => return Range::Ignored,
        },
        (false, true) => match number(first) {
            Some(start) => (start, size),
            None => return Range::Ignored,
        },
        (false, false) => match (number(first), number(last)) {
            // A last byte past the end (up to u64::MAX) means the end: saturate, never wrap.
            (Some(start), Some(last)) if last >= start => (start, last.saturating_add(1).min(size)),
            _ => return Range::Ignored,
        },
        (true, true) => return Range::Ignored,
    };
    if start >= size {
        return Range::Unsatisfiable;
    }
    Range::Bytes(start, end)
}

/// `inline` or `attachment`, with an ASCII fallback name and the real one
/// percent-encoded (RFC 6266 and 5987). Quotes, backslashes and anything
/// outside printable ASCII never reach the quoted fallback.
fn disposition(name: &str, inline: bool) -> String {
    let fallback: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_single_ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Range::Bytes(0, 10));
        assert_eq!(parse_range("bytes=90-", 100), Range::Bytes(90, 100));
        assert_eq!(parse_range("bytes=-10", 100), Range::Bytes(90, 100));
        assert_eq!(parse_range("bytes=-500", 100), Range::Bytes(0, 100));
        assert_eq!(parse_range("bytes=50-500", 100), Range::Bytes(50, 100));
        assert_eq!(parse_range("bytes=100-", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 100), Range::Ignored);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Range::Ignored);
        assert_eq!(parse_range("items=0-1", 100), Range::Ignored);
    }

    #[test]
    fn saturates_huge_ranges() {
        assert_eq!(parse_range("bytes=1-18446744073709551615", 100), Range::Bytes(1, 100));
        assert_eq!(parse_range("bytes=0-18446744073709551615", 0), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=18446744073709551615-18446744073709551615", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=18446744073709551615-", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=-18446744073709551615", 100), Range::Bytes(0, 100));
        assert_eq!(parse_range("bytes=1-18446744073709551616", 100), Range::Ignored, "past u64: not a range we read");
    }

    #[test]
    fn names_are_safe_in_the_header() {
        assert_eq!(disposition("a b.txt", false), "attachment; filename=\"a b.txt\"; filename*=UTF-8''a%20b.txt");
        assert_eq!(
            disposition("报告\"x\".pdf", true),
            "inline; filename=\"___x_.pdf\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A%22x%22.pdf"
        );
    }
}
