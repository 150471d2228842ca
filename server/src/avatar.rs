//! Avatar images: checking an upload, turning it into the stored sizes, and
//! serving them.
//!
//! Uploads are untrusted, so [`process`] sniffs the format from the bytes
//! (never from the client's content type) and reads the declared dimensions
//! before decoding any pixels: a few hundred bytes of PNG can claim to be
//! gigapixels, and such decompression bombs are refused without allocating.
//! A JPEG is decoded scaled down as far as the largest size allows (`jpeg`).
//! The image is then centre-cropped to a square and re-encoded from raw
//! pixels as lossless WebP at each of [`AVATAR_SIZES`]; re-encoding drops
//! everything but the pixels, so EXIF data such as GPS positions never leaves
//! the server.
//!
//! Each upload is stored under a version derived from its content
//! (`{user}/{version}/{size}.webp` in the avatars' blob storage: the data
//! dir's `avatars/`, or GridFS), so a URL always names the same bytes and
//! [`serve_file`] lets browsers cache it forever.

use std::{
    collections::HashMap,
    io::{self, Cursor},
    time::SystemTime,
};

use axum::{
    http::header,
    response::{IntoResponse, Response},
};
use image::{
    codecs::webp::WebPEncoder,
    imageops::{self, FilterType},
    metadata::Orientation,
    DynamicImage, ExtendedColorType, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbaImage,
};
use sha2::{Digest, Sha256};
use wire::{
    api::AVATAR_SIZES,
    model::UserId,
    protocol::{ApiError, ErrorCode},
};

use crate::{
    blobs::{self, Blobs},
    error::HttpError,
};

mod jpeg;

/// Widest and tallest image the decoders accept.
const MAX_SIDE: u32 = 8192;
/// Most pixels an avatar upload may have; phone photos stay below it.
pub const MAX_PIXELS: u64 = 40_000_000;
/// Most bytes a decoder may allocate, decoded image included.
const MAX_ALLOC: u64 = 128 * 1024 * 1024;
const FILTER: FilterType = FilterType::Lanczos3;

/// An upload turned into the stored images.
#[derive(Debug)]
pub struct Processed {
    /// First 16 hex digits of the upload's SHA-256: names the stored images.
    pub version: String,
    /// A lossless WebP image for each of [`AVATAR_SIZES`], in that order.
    pub images: Vec<(u32, Vec<u8>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum AvatarError {
    #[error("the upload is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("the upload is not an image")]
    NotAnImage,
    #[error("the image format is not supported")]
    Unsupported,
    #[error("the image has too many pixels")]
    TooManyPixels,
    #[error("the image cannot be decoded: {0}")]
    Corrupt(String),
}

impl From<AvatarError> for ApiError {
    fn from(e: AvatarError) -> Self {
        let (code, message) = match e {
            AvatarError::TooLarge { max } => (ErrorCode::PayloadTooLarge, format!("at most {} KiB", max / 1024)),
            AvatarError::NotAnImage | AvatarError::Unsupported => {
                (ErrorCode::UnsupportedMediaType, "use a PNG, JPEG, WebP or GIF image".to_owned())
            }
            AvatarError::TooManyPixels => (
                ErrorCode::BadRequest,
                format!("at most {} megapixels and {MAX_SIDE} pixels per side", MAX_PIXELS / 1_000_000),
            ),
            AvatarError::Corrupt(_) => (ErrorCode::BadRequest, "the image is damaged or truncated".to_owned()),
        };
        Self { field: Some("avatar".to_owned()), ..Self::new(code, message) }
    }
}

impl Processed {
    /// The bytes the stored images take.
    pub fn stored_bytes(&self) -> u64 {
        self.images.iter().map(|(_, image)| image.len() as u64).sum()
    }
}

/// Checks an upload of at most `max_bytes` and makes the stored images.
/// CPU-bound: run it with `spawn_blocking`.
pub fn process(bytes: &[u8], max_bytes: usize) -> Result<Processed, AvatarError> {
    if bytes.len() > max_bytes {
        return Err(AvatarError::TooLarge { max: max_bytes });
    }
    let decoded = decode(bytes, MAX_PIXELS, Need::ShortSide(largest_size()))?;
    let images = resize(decoded.image.into_rgba8(), decoded.orientation)
        .into_iter()
        .map(|(size, image)| Ok((size, encode_webp(&image)?)))
        .collect::<Result<_, AvatarError>>()?;
    let version = Sha256::digest(bytes)[..8].iter().map(|b| format!("{b:02x}")).collect();
    Ok(Processed { version, images })
}

/// How large a decoded image must be, where the original is that large.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Need {
    /// Every pixel.
    Full,
    /// This many pixels on its shorter side.
    ShortSide(u32),
    /// This many pixels on its longer side.
    LongSide(u32),
}

/// A decoded image: at least the size [`Need`]ed, maybe not the original's.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub image: DynamicImage,
    /// How to turn the pixels to show them upright (EXIF orientation).
    pub orientation: Orientation,
    /// The original's width and height, as stored (not turned).
    pub size: (u32, u32),
}

impl Decoded {
    /// The original's width and height once shown upright.
    pub fn upright_size(&self) -> (u32, u32) {
        let (width, height) = self.size;
        match self.orientation {
            Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH => (height, width),
            _ => (width, height),
        }
    }
}

/// Decodes a PNG, JPEG, WebP or GIF (its first frame), refusing images of
/// more than `max_pixels` (or [`MAX_PIXELS`]) from their header, before
/// pixels are decoded. Only a JPEG can be decoded at less than its full size.
pub(crate) fn decode(bytes: &[u8], max_pixels: u64, need: Need) -> Result<Decoded, AvatarError> {
    let mut reader =
        ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| AvatarError::Corrupt(e.to_string()))?;
    let format = match reader.format() {
        Some(format @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif)) => format,
        Some(_) => return Err(AvatarError::Unsupported),
        None => return Err(AvatarError::NotAnImage),
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);

    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(AvatarError::Corrupt("the image has no pixels".to_owned()));
    }
    if u64::from(width) * u64::from(height) > max_pixels.min(MAX_PIXELS) || decoder.total_bytes() > MAX_ALLOC {
        return Err(AvatarError::TooManyPixels);
    }
    // A broken EXIF block is no reason to refuse an image.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let scaled = match format {
        ImageFormat::Jpeg => jpeg::decode(bytes, need),
        _ => None,
    };
    let image = match scaled {
        Some(image) => image,
        None => DynamicImage::from_decoder(decoder).map_err(decode_error)?,
    };
    Ok(Decoded { image, orientation, size: (width, height) })
}

fn decode_error(e: ImageError) -> AvatarError {
    match e {
        ImageError::Limits(_) => AvatarError::TooManyPixels,
        ImageError::Unsupported(_) => AvatarError::Unsupported,
        e => AvatarError::Corrupt(e.to_string()),
    }
}

fn largest_size() -> u32 {
    AVATAR_SIZES.iter().copied().max().unwrap_or(0)
}

/// Centre-crops `image` to a square and scales it to each of [`AVATAR_SIZES`].
fn resize(image: RgbaImage, orientation: Orientation) -> Vec<(u32, RgbaImage)> {
    let (width, height) = image.dimensions();
    let side = width.min(height);
    let square = imageops::crop_imm(&image, (width - side) / 2, (height - side) / 2, side, side);
    // Scale a large source down once; the smaller sizes come from that.
    let largest = largest_size();
    let base = if side > largest { imageops::resize(&*square, largest, largest, FILTER) } else { square.to_image() };
    drop(image);
    // The centre square maps onto itself under EXIF's rotations and flips,
    // so orienting after cropping gives the same result for less work.
    let mut base = DynamicImage::ImageRgba8(base);
    base.apply_orientation(orientation);
    let base = base.into_rgba8();
    AVATAR_SIZES
        .iter()
        .map(|&size| {
            let image = if size == base.width() { base.clone() } else { imageops::resize(&base, size, size, FILTER) };
            (size, image)
        })
        .collect()
}

pub(crate) fn encode_webp(image: &RgbaImage) -> Result<Vec<u8>, AvatarError> {
    let mut out = Vec::new();
    WebPEncoder::new_lossless(&mut out)
        .encode(image.as_raw(), image.width(), image.height(), ExtendedColorType::Rgba8)
        .map_err(|e| AvatarError::Corrupt(format!("encoding WebP: {e}")))?;
    Ok(out)
}

/// Whether `s` may be a path component: `[A-Za-z0-9_-]{1,64}`.
fn is_safe_component(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn safe_component(s: &str) -> io::Result<&str> {
    if is_safe_component(s) {
        Ok(s)
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, format!("unsafe path component {s:?}")))
    }
}

fn file_name(size: u32) -> String {
    format!("{size}.webp")
}

/// The name of one stored image: `{user}/{version}/{size}.webp`.
fn image_name(user: &str, version: &str, file: &str) -> io::Result<String> {
    Ok(format!("{}/{}/{file}", safe_component(user)?, safe_component(version)?))
}

/// Stores `p` as `{user}/{version}/{size}.webp`; each image appears complete or not at all.
pub async fn save(avatars: &dyn Blobs, user: &UserId, p: &Processed) -> io::Result<()> {
    for (size, bytes) in &p.images {
        avatars.put(&image_name(&user.0, &p.version, &file_name(*size))?, bytes).await?;
    }
    Ok(())
}

/// The bytes `user`'s avatar images of `version` take (0 when absent).
pub async fn stored_bytes(avatars: &dyn Blobs, user: &UserId, version: &str) -> io::Result<u64> {
    let mut total = 0;
    for size in AVATAR_SIZES {
        if let Some(image) = avatars.open(&image_name(&user.0, version, &file_name(size))?).await? {
            total += image.len();
        }
    }
    Ok(total)
}

/// Versions younger than this survive a clean-up: one may belong to an upload
/// racing this one, and clients may still show a just-replaced avatar.
const CLEANUP_GRACE: std::time::Duration = std::time::Duration::from_secs(600);

/// Deletes the stored versions of `user`'s avatar other than `keep_version`
/// whose newest image is older than [`CLEANUP_GRACE`]; a later upload removes the rest.
pub async fn remove_other_versions(avatars: &dyn Blobs, user: &UserId, keep_version: &str) -> io::Result<()> {
    let prefix = format!("{}/", safe_component(&user.0)?);
    safe_component(keep_version)?;
    let mut newest: HashMap<String, SystemTime> = HashMap::new();
    for entry in avatars.list(&prefix).await? {
        let Some((version, _)) = entry.name[prefix.len()..].split_once('/') else { continue };
        let written = newest.entry(version.to_owned()).or_insert(entry.written);
        *written = (*written).max(entry.written);
    }
    for (version, written) in newest {
        if version != keep_version && written.elapsed().unwrap_or_default() >= CLEANUP_GRACE {
            avatars.remove_all(&format!("{prefix}{}/", safe_component(&version)?)).await?;
        }
    }
    Ok(())
}

/// Answers `GET /avatars/{user}/{version}/{file}`: the stored image, cacheable
/// forever since a version never changes, or a 404 [`ApiError`].
pub async fn serve_file(avatars: &dyn Blobs, user: &str, version: &str, file: &str) -> Response {
    let known_file = AVATAR_SIZES.iter().any(|&size| file == file_name(size));
    if !(known_file && is_safe_component(user) && is_safe_component(version)) {
        return not_found();
    }
    let Ok(name) = image_name(user, version, file) else { return not_found() };
    let read = match avatars.open(&name).await {
        Ok(Some(image)) => blobs::read_all(&*image).await.map(Some),
        other => other.map(|_| None),
    };
    match read {
        Ok(Some(bytes)) => (
            [
                (header::CONTENT_TYPE, "image/webp"),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(name, error = %e, "reading an avatar failed");
            HttpError::new(ErrorCode::Internal, "the avatar cannot be read").into_response()
        }
    }
}

fn not_found() -> Response {
    HttpError::new(ErrorCode::NotFound, "no such avatar").into_response()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use axum::{body::to_bytes, http::StatusCode};
    use image::{Rgb, RgbImage};

    use super::*;
    use crate::blobs::dir::DirBlobs;

    fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn gradient(width: u32, height: u32) -> DynamicImage {
        RgbImage::from_fn(width, height, |x, y| Rgb([x as u8, y as u8, 128])).into()
    }

    fn decoded(webp: &[u8]) -> RgbaImage {
        assert_eq!(image::guess_format(webp).unwrap(), ImageFormat::WebP);
        image::load_from_memory_with_format(webp, ImageFormat::WebP).unwrap().into_rgba8()
    }

    fn assert_colour(image: &RgbaImage, x: u32, y: u32, [r, g, b]: [u8; 3]) {
        let p = image.get_pixel(x, y).0;
        let close = |a: u8, b: u8| a.abs_diff(b) < 40;
        assert!(close(p[0], r) && close(p[1], g) && close(p[2], b), "pixel ({x}, {y}) is {p:?}");
    }

    #[test]
    fn each_accepted_format_yields_every_size_as_webp() {
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Gif, ImageFormat::WebP] {
            let p = process(&encoded(&gradient(200, 150), format), 1 << 20).unwrap();
            let sizes: Vec<u32> = p.images.iter().map(|(size, _)| *size).collect();
            assert_eq!(sizes, AVATAR_SIZES, "{format:?}");
            for (size, webp) in &p.images {
                assert_eq!(decoded(webp).dimensions(), (*size, *size), "{format:?}");
            }
        }
    }

    #[test]
    fn a_large_source_is_scaled_down() {
        let p = process(&encoded(&gradient(900, 700), ImageFormat::Png), 1 << 22).unwrap();
        for (size, webp) in &p.images {
            assert_eq!(decoded(webp).dimensions(), (*size, *size));
        }
    }

    #[test]
    fn a_wide_image_is_cropped_to_its_centre() {
        // Red, green and blue thirds: only the green one survives.
        let image: DynamicImage = RgbImage::from_fn(300, 100, |x, _| match x / 100 {
            0 => Rgb([255, 0, 0]),
            1 => Rgb([0, 255, 0]),
            _ => Rgb([0, 0, 255]),
        })
        .into();
        let p = process(&encoded(&image, ImageFormat::Png), 1 << 20).unwrap();
        for (size, webp) in &p.images {
            let out = decoded(webp);
            for (x, y) in [(0, 0), (size - 1, 0), (0, size - 1), (size - 1, size - 1)] {
                assert_colour(&out, x, y, [0, 255, 0]);
            }
        }
    }

    /// `jpeg` with an EXIF segment carrying `orientation`.
    fn with_exif_orientation(jpeg: &[u8], orientation: Orientation) -> Vec<u8> {
        let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(jpeg.to_vec().into()).unwrap();
        img_parts::ImageEXIF::set_exif(&mut jpeg, Some(crate::files::strip::orientation_exif(orientation)));
        jpeg.encoder().bytes().to_vec()
    }

    #[test]
    fn exif_orientation_is_applied_and_metadata_stripped() {
        // Small, and large enough to decode scaled.
        for side in [64, 2048] {
            // Red above blue; EXIF orientation 6 rotates it 90° clockwise.
            let image: DynamicImage =
                RgbImage::from_fn(side, side, |_, y| if y < side / 2 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 255]) })
                    .into();
            let jpeg = with_exif_orientation(&encoded(&image, ImageFormat::Jpeg), Orientation::Rotate90);
            assert!(jpeg.windows(4).any(|w| w == b"Exif"));

            let p = process(&jpeg, 1 << 22).unwrap();
            for (size, webp) in &p.images {
                assert!(!webp.windows(4).any(|w| w.eq_ignore_ascii_case(b"exif")), "{size}");
                let out = decoded(webp);
                assert_colour(&out, size / 8, size / 2, [0, 0, 255]);
                assert_colour(&out, size - size / 8, size / 2, [255, 0, 0]);
            }
        }
    }

    #[test]
    fn a_large_jpeg_is_decoded_scaled_down() {
        let noise = RgbImage::from_fn(4000, 3000, |x, y| Rgb([(x * 7 ^ y * 13) as u8, (x + y) as u8, (x * y) as u8]));
        let jpeg = encoded(&noise.into(), ImageFormat::Jpeg);
        let largest = largest_size();
        let d = decode(&jpeg, MAX_PIXELS, Need::ShortSide(largest)).unwrap();
        // 1/4 a side: 1/8 would leave the short side under the largest avatar.
        assert_eq!((d.size, d.image.width(), d.image.height()), ((4000, 3000), 1000, 750));
        let d = decode(&jpeg, MAX_PIXELS, Need::LongSide(320)).unwrap();
        assert_eq!((d.image.width(), d.image.height()), (500, 375));
        let d = decode(&jpeg, MAX_PIXELS, Need::Full).unwrap();
        assert_eq!((d.image.width(), d.image.height()), (4000, 3000));
        // A grey one too.
        let grey = encoded(&DynamicImage::ImageLuma8(image::imageops::grayscale(&d.image)), ImageFormat::Jpeg);
        let d = decode(&grey, MAX_PIXELS, Need::ShortSide(largest)).unwrap();
        assert_eq!((d.image.color(), d.image.width(), d.image.height()), (image::ColorType::L8, 1000, 750));
    }

    #[test]
    fn the_upright_size_is_turned_with_the_picture() {
        let image: DynamicImage = gradient(300, 200);
        let jpeg = with_exif_orientation(&encoded(&image, ImageFormat::Jpeg), Orientation::Rotate270);
        let d = decode(&jpeg, MAX_PIXELS, Need::LongSide(100)).unwrap();
        assert_eq!((d.size, d.upright_size(), d.orientation), ((300, 200), (200, 300), Orientation::Rotate270));
    }

    #[test]
    fn anything_but_an_accepted_image_is_refused() {
        for bytes in [b"".as_slice(), b"hello, this is not an image"] {
            assert!(matches!(process(bytes, 1 << 20), Err(AvatarError::NotAnImage)), "{bytes:?}");
        }
        let mut bmp = b"BM".to_vec();
        bmp.resize(64, 0);
        let mut tiff = b"II*\0".to_vec();
        tiff.resize(64, 0);
        for bytes in [bmp, tiff] {
            assert!(matches!(process(&bytes, 1 << 20), Err(AvatarError::Unsupported)), "{bytes:?}");
        }
    }

    #[test]
    fn an_upload_over_the_limit_is_refused() {
        let png = encoded(&gradient(16, 16), ImageFormat::Png);
        let max = png.len() - 1;
        assert!(matches!(process(&png, max), Err(AvatarError::TooLarge { max: m }) if m == max));
        assert!(process(&png, png.len()).is_ok());
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    /// A valid one-pixel PNG whose header claims `width`×`height`.
    fn png_declaring(width: u32, height: u32) -> Vec<u8> {
        let mut png = encoded(&gradient(1, 1), ImageFormat::Png);
        // Signature (8), IHDR length (4), "IHDR" (4), width, height, …, CRC of type and data.
        assert_eq!(&png[12..16], b"IHDR");
        png[16..20].copy_from_slice(&width.to_be_bytes());
        png[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        png
    }

    #[test]
    fn decompression_bombs_are_refused_from_the_header() {
        // 50000² is over the side limit, 7000×6000 within it but over the pixel limit.
        for (width, height) in [(50_000, 50_000), (7000, 6000)] {
            let start = Instant::now();
            let result = process(&png_declaring(width, height), 1 << 20);
            assert!(matches!(result, Err(AvatarError::TooManyPixels)), "{width}×{height}: {result:?}");
            assert!(start.elapsed() < Duration::from_secs(1), "{width}×{height}");
        }
    }

    #[test]
    fn a_truncated_image_is_refused() {
        let png = encoded(&gradient(64, 64), ImageFormat::Png);
        for cut in [8, 40, png.len() / 2] {
            let result = process(&png[..cut], 1 << 20);
            assert!(matches!(result, Err(AvatarError::Corrupt(_) | AvatarError::NotAnImage)), "{cut}: {result:?}");
        }
    }

    #[test]
    fn the_version_is_a_content_hash() {
        let a = encoded(&gradient(16, 16), ImageFormat::Png);
        let b = encoded(&gradient(17, 16), ImageFormat::Png);
        let version = process(&a, 1 << 20).unwrap().version;
        assert_eq!(version.len(), 16);
        assert!(version.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(process(&a, 1 << 20).unwrap().version, version);
        assert_ne!(process(&b, 1 << 20).unwrap().version, version);
    }

    #[test]
    fn errors_have_stable_codes_and_name_the_field() {
        let cases = [
            (AvatarError::TooLarge { max: 1 << 20 }, ErrorCode::PayloadTooLarge),
            (AvatarError::NotAnImage, ErrorCode::UnsupportedMediaType),
            (AvatarError::Unsupported, ErrorCode::UnsupportedMediaType),
            (AvatarError::TooManyPixels, ErrorCode::BadRequest),
            (AvatarError::Corrupt("x".into()), ErrorCode::BadRequest),
        ];
        for (error, code) in cases {
            let api = ApiError::from(error);
            assert_eq!((api.code, api.field.as_deref()), (code, Some("avatar")));
        }
        let message = ApiError::from(AvatarError::Unsupported).message;
        for format in ["PNG", "JPEG", "WebP", "GIF"] {
            assert!(message.contains(format), "{message}");
        }
    }

    fn sample(version: &str) -> Processed {
        Processed {
            version: version.to_owned(),
            images: AVATAR_SIZES.iter().map(|&size| (size, format!("image {size}").into_bytes())).collect(),
        }
    }

    #[tokio::test]
    async fn saved_files_are_served_with_immutable_caching() {
        let dir = tempfile::tempdir().unwrap();
        let user = UserId::from("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
        let avatars = DirBlobs::new(dir.path().to_owned());
        save(&avatars, &user, &sample("0123456789abcdef")).await.unwrap();

        let files = std::fs::read_dir(dir.path().join(&user.0).join("0123456789abcdef")).unwrap().count();
        assert_eq!(files, AVATAR_SIZES.len(), "no temporary files are left behind");

        let response = serve_file(&avatars, &user.0, "0123456789abcdef", "128.webp").await;
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "image/webp");
        assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(to_bytes(response.into_body(), usize::MAX).await.unwrap(), "image 128");
    }

    #[tokio::test]
    async fn serve_file_answers_404_for_anything_else() {
        let dir = tempfile::tempdir().unwrap();
        let avatars = DirBlobs::new(dir.path().join("avatars"));
        save(&avatars, &UserId::from("u1"), &sample("v1")).await.unwrap();
        std::fs::write(dir.path().join("secret"), "secret").unwrap();

        let requests = [
            ("..", "..", "64.webp"),
            ("u1", "..", "64.webp"),
            ("..", "avatars", "secret"),
            ("u1", "v1", "../../../secret"),
            ("u1/v1", "v1", "64.webp"),
            ("u1", "v1", "100.webp"),
            ("u1", "v1", "064.webp"),
            ("u1", "v1", "+64.webp"),
            ("u1", "v1", "64.png"),
            ("u1", "v1", "64"),
            ("u1", "v2", "64.webp"),
            ("u2", "v1", "64.webp"),
            ("", "v1", "64.webp"),
        ];
        for (user, version, file) in requests {
            let response = serve_file(&avatars, user, version, file).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{user}/{version}/{file}");
            let body: ApiError =
                serde_json::from_slice(&to_bytes(response.into_body(), usize::MAX).await.unwrap()).unwrap();
            assert_eq!(body.code, ErrorCode::NotFound);
        }
        assert_eq!(serve_file(&avatars, "u1", "v1", "64.webp").await.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn unsafe_path_components_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let avatars = DirBlobs::new(dir.path().to_owned());
        for (user, version) in [("../evil", "v1"), ("u1", ".."), ("", "v1"), ("u1", "a/b")] {
            let error = save(&avatars, &UserId::from(user), &sample(version)).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{user}/{version}");
        }
        let error = remove_other_versions(&avatars, &UserId::from(".."), "v1").await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn old_versions_are_removed_after_a_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let user = UserId::from("u1");
        let avatars = DirBlobs::new(dir.path().to_owned());
        remove_other_versions(&avatars, &user, "v1").await.unwrap();
        for version in ["v1", "v2", "v3", "v4"] {
            save(&avatars, &user, &sample(version)).await.unwrap();
        }
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for old in ["v1", "v2", "v3"] {
            for image in std::fs::read_dir(dir.path().join("u1").join(old)).unwrap() {
                std::fs::File::open(image.unwrap().path()).unwrap().set_modified(an_hour_ago).unwrap();
            }
        }
        remove_other_versions(&avatars, &user, "v2").await.unwrap();
        let mut left: Vec<_> = std::fs::read_dir(dir.path().join("u1")).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, ["v2", "v4"], "v4 is too recent to remove");
        assert_eq!(serve_file(&avatars, "u1", "v2", "512.webp").await.status(), StatusCode::OK);
    }
}
