//! Uploaded files, and who may read them.
//!
//! Content is stored once per SHA-256 as `ab/cd/<sha256>` in the blob
//! storage (`crate::blobs`: the data dir's `files/`, or GridFS with
//! MongoDB; names the server makes, never the client). An upload streams
//! into a temporary file of this node's `<data dir>/files/tmp/` while it is
//! hashed and counted; only when the size limit, the client's hash and the
//! type checks pass is it synced and put in place, so a failed upload leaves
//! nothing behind. Images the server can decode also get
//! `<sha256>.thumb.webp` and `<sha256>.image`, a copy without EXIF and other
//! metadata, which is what is served in place of the original: a JPEG's is
//! the same JPEG with its metadata segments dropped (`strip`), so only its
//! thumbnail needs decoding, at a reduced scale; PNG and WebP are re-encoded
//! from their pixels; GIFs, which carry no EXIF, are served as they are.
//!
//! | module | holds |
//! |---|---|
//! | here | the names of stored content, receiving an upload, image derivatives, access |
//! | `sniff` | the type of content from its first bytes |
//! | `strip` | a JPEG's metadata dropped without decoding it |
//! | `instant` | instant upload: challenges proving possession of content |
//! | `serve` | answering downloads: ranges, safe names, caching |
//! | `quota` | what each user's uploads take, against their quota |
//! | `sweep` | deleting files never posted, and content no file refers to |

pub mod instant;
pub mod quota;
pub mod serve;
pub mod sniff;
pub mod strip;
pub mod sweep;

use std::{
    io::Cursor,
    path::{Path, PathBuf},
};

use futures_util::{Stream, StreamExt};
use image::{codecs::jpeg::JpegEncoder, ImageFormat};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use wire::{
    api::attachment_fits,
    model::{Attachment, ConversationId, MessageKind, UserId},
    protocol::AttachmentRef,
};

use crate::{
    avatar::{self, Need},
    blobs::{DynBlobs, Stored},
    store::{files::BlobRecord, DynStore, StoreError},
};

/// Bytes of an upload's start kept for sniffing its type.
const HEAD_BYTES: usize = 8192;
/// Most bytes of a refused upload read on before answering; see [`drain`].
const DRAIN_BYTES: u64 = 1 << 20;
/// Longest side of a thumbnail, in pixels.
const THUMBNAIL_SIDE: u32 = 320;
/// Longest voice note or video a message may claim to last.
const MAX_DURATION_MS: u64 = 24 * 3600 * 1000;

/// Uploaded content: where it is kept, and this node's directory for uploads being received.
#[derive(Clone)]
pub struct Uploads {
    blobs: DynBlobs,
    /// `<data dir>/files/tmp`.
    receiving: PathBuf,
}

/// An upload received into a temporary file, not yet in place.
#[derive(Debug)]
pub struct Received {
    tmp: TempFile,
    pub sha256: String,
    pub size: u64,
    /// The first [`HEAD_BYTES`] bytes.
    pub head: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("the upload is larger than the limit")]
    TooLarge,
    #[error("the upload is empty")]
    Empty,
    #[error("the upload broke off: {0}")]
    Body(String),
    #[error("cannot write the upload: {0}")]
    Io(#[from] std::io::Error),
}

/// A file removed when dropped unless [`TempFile::keep`] renamed it away.
#[derive(Debug)]
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// What the server derived from an image it could decode.
#[derive(Debug)]
pub struct ImageParts {
    pub width: u32,
    pub height: u32,
    pub thumbnail: Vec<u8>,
    /// The re-encoded copy without metadata; `None` when the original is served (GIF).
    pub clean: Option<Vec<u8>>,
}

impl Uploads {
    pub fn new(blobs: DynBlobs, data_dir: &Path) -> Uploads {
        Uploads { blobs, receiving: data_dir.join("files").join("tmp") }
    }

    pub fn blobs(&self) -> &DynBlobs {
        &self.blobs
    }

    /// The original content with this hash, if it is stored.
    pub async fn open(&self, sha256: &str) -> std::io::Result<Option<Box<dyn Stored>>> {
        self.blobs.open(&blob_name(sha256)).await
    }

    pub async fn open_thumbnail(&self, sha256: &str) -> std::io::Result<Option<Box<dyn Stored>>> {
        self.blobs.open(&thumbnail_name(sha256)).await
    }

    /// The bytes a download of this blob gets: images without their metadata.
    pub async fn open_served(&self, blob: &BlobRecord) -> std::io::Result<Option<Box<dyn Stored>>> {
        match blob.thumbnail && blob.mime != "image/gif" {
            true => self.blobs.open(&clean_name(&blob.sha256)).await,
            false => self.open(&blob.sha256).await,
        }
    }

    /// Whether the original content with this hash is stored.
    pub async fn holds(&self, sha256: &str) -> std::io::Result<bool> {
        Ok(self.open(sha256).await?.is_some())
    }

    /// Streams `body` into a temporary file, hashing it; stops with
    /// [`ReceiveError::TooLarge`] as soon as it passes `max` bytes.
    pub async fn receive<S, B, E>(&self, body: &mut S, max: u64) -> Result<Received, ReceiveError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        crate::private::create_dir_all_async(&self.receiving).await?;
        let tmp = TempFile(Some(self.receiving.join(format!("{}.part", crate::store::new_id()))));
        let path = tmp.0.clone().expect("just set");
        let mut file = crate::private::create_file(&path).await?;
        let (mut hasher, mut size, mut head) = (Sha256::new(), 0u64, Vec::new());
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| ReceiveError::Body(e.to_string()))?;
            let chunk = chunk.as_ref();
            size += chunk.len() as u64;
            if size > max {
                return Err(ReceiveError::TooLarge);
            }
            if head.len() < HEAD_BYTES {
                head.extend_from_slice(&chunk[..chunk.len().min(HEAD_BYTES - head.len())]);
            }
            hasher.update(chunk);
            file.write_all(chunk).await?;
        }
        if size == 0 {
            return Err(ReceiveError::Empty);
        }
        file.sync_all().await?;
        Ok(Received { tmp, sha256: hex(&hasher.finalize()), size, head })
    }

    /// Puts a checked upload in place (unless identical content is there
    /// already) with its image derivatives. Record the file first: see `sweep`.
    pub async fn keep(&self, received: Received, image: Option<&ImageParts>) -> std::io::Result<()> {
        let sha256 = &received.sha256;
        if let Some(parts) = image {
            self.blobs.put(&thumbnail_name(sha256), &parts.thumbnail).await?;
            if let Some(clean) = &parts.clean {
                self.blobs.put(&clean_name(sha256), clean).await?;
            }
        }
        if self.holds(sha256).await? {
            return Ok(()); // the temporary file goes when `received` drops
        }
        let tmp = received.tmp.0.as_ref().expect("a received upload has its file");
        self.blobs.put_file(&blob_name(sha256), tmp).await
    }

    /// Reads the whole received upload, for image processing.
    pub async fn read_received(&self, received: &Received) -> std::io::Result<Vec<u8>> {
        tokio::fs::read(received.tmp.0.as_ref().expect("a received upload has its file")).await
    }
}

/// What a blob's items are named after its hash, each a suffix of [`blob_name`].
pub const PARTS: [&str; 3] = ["", ".thumb.webp", ".image"];

/// The name of the content with this hash: `ab/cd/<sha256>`. `sha256` must be 64 hex digits.
pub fn blob_name(sha256: &str) -> String {
    debug_assert!(is_sha256(sha256));
    format!("{}/{}/{sha256}", &sha256[..2], &sha256[2..4])
}

fn thumbnail_name(sha256: &str) -> String {
    blob_name(sha256) + PARTS[1]
}

fn clean_name(sha256: &str) -> String {
    blob_name(sha256) + PARTS[2]
}

/// Reads and drops what follows of a refused upload, up to [`DRAIN_BYTES`]:
/// a client still sending when the server answers and closes may otherwise
/// lose the answer to a connection reset.
pub async fn drain<S, B, E>(body: &mut S)
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    let mut left = DRAIN_BYTES;
    while let Some(Ok(chunk)) = body.next().await {
        left = left.saturating_sub(chunk.as_ref().len() as u64);
        if left == 0 {
            return;
        }
    }
}

/// Why an image got no thumbnail and is kept as a plain file.
#[derive(Debug, PartialEq, Eq)]
pub enum NoParts {
    /// More pixels than the server decodes for a message.
    TooManyPixels,
    /// Not an image the server can decode.
    Undecodable,
}

/// Decodes an image of at most `max_pixels` (with the avatar decoder's
/// limits against bombs), and makes its thumbnail and a copy without
/// metadata. CPU-bound: run it with `spawn_blocking`, holding a slot of the
/// decode gate. The decoded pixels are the only full-size copy made, and a
/// JPEG whose metadata [`strip::jpeg`] can drop is decoded at a reduced scale.
pub fn image_parts(bytes: &[u8], mime: &str, max_pixels: u64) -> Result<ImageParts, NoParts> {
    let format = match mime {
        "image/png" => ImageFormat::Png,
        "image/jpeg" => ImageFormat::Jpeg,
        "image/webp" => ImageFormat::WebP,
        "image/gif" => ImageFormat::Gif,
        _ => return Err(NoParts::Undecodable),
    };
    let stripped = match format {
        ImageFormat::Jpeg => strip::jpeg(bytes),
        _ => None,
    };
    let need = if stripped.is_some() { Need::LongSide(THUMBNAIL_SIDE) } else { Need::Full };
    let decoded = avatar::decode(bytes, max_pixels, need).map_err(|e| match e {
        avatar::AvatarError::TooManyPixels => NoParts::TooManyPixels,
        _ => NoParts::Undecodable,
    })?;
    let (width, height) = decoded.upright_size();
    let mut image = decoded.image;
    image.apply_orientation(decoded.orientation);
    let undecodable = |_| NoParts::Undecodable;
    let thumbnail =
        avatar::encode_webp(&image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE).into_rgba8()).map_err(undecodable)?;
    let clean = match (stripped, format) {
        (stripped @ Some(_), _) => stripped,
        (None, ImageFormat::Gif) => None,
        (None, ImageFormat::WebP) => Some(match image.as_rgba8() {
            Some(rgba) => avatar::encode_webp(rgba),
            None => avatar::encode_webp(&image.to_rgba8()),
        }
        .map_err(undecodable)?),
        (None, ImageFormat::Jpeg) => {
            let mut out = Vec::new();
            let mut encoder = JpegEncoder::new_with_quality(&mut out, 90);
            match image.as_rgb8() {
                Some(rgb) => encoder.encode_image(rgb),
                None => encoder.encode_image(&image.to_rgb8()),
            }
            .map_err(|_| NoParts::Undecodable)?;
            Some(out)
        }
        (None, _) => {
            let mut out = Cursor::new(Vec::new());
            image.write_to(&mut out, format).map_err(|_| NoParts::Undecodable)?;
            Some(out.into_inner())
        }
    };
    Ok(ImageParts { width, height, thumbnail, clean })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `s` is a lower-case hex SHA-256.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Why a send's attachment is refused.
#[derive(Debug)]
pub enum Refused {
    /// Bad input, with the reason for the error frame.
    Bad(String),
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Refused::Store(e)
    }
}

/// Checks the attachment of a `kind` message `sender` is posting in
/// `conversation`: one of the sender's own uploads, of a type that fits the
/// kind. Records the posting first, so members can fetch the file as soon
/// as the message reaches them.
pub async fn attach(
    store: &DynStore,
    sender: &UserId,
    conversation: &ConversationId,
    kind: MessageKind,
    reference: Option<AttachmentRef>,
) -> Result<Option<Box<Attachment>>, Refused> {
    let bad = |why: &str| Err(Refused::Bad(why.to_owned()));
    let reference = match (kind, reference) {
        (MessageKind::Text, None) => return Ok(None),
        (MessageKind::Text, Some(_)) => return bad("a text message carries no attachment"),
        (MessageKind::VoiceCall | MessageKind::VideoCall | MessageKind::LiveStream, _) => {
            return bad("calls and broadcasts are not sent as messages")
        }
        (_, None) => return bad("this kind of message needs an attachment"),
        (_, Some(reference)) => reference,
    };
    let file = match store.file(&reference.file_id).await? {
        Some(file) if file.owner == *sender => file,
        _ => return bad("attachment: no such file among your uploads"),
    };
    if let Err(why) = attachment_fits(kind, &file.blob.mime, file.blob.thumbnail) {
        return bad(why);
    }
    let duration_ms = match (kind, reference.duration_ms) {
        (MessageKind::Voice | MessageKind::Video, Some(ms)) if ms > MAX_DURATION_MS => {
            return bad("attachment: duration_ms is longer than a day")
        }
        (MessageKind::Voice | MessageKind::Video, duration) => duration,
        _ => None,
    };
    if !store.record_posting(&file.id, conversation).await? {
        return bad("attachment: no such file among your uploads"); // swept meanwhile
    }
    Ok(Some(Box::new(file.info().attach(duration_ms))))
}
