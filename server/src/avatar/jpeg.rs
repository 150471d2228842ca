//! Decoding a JPEG scaled down in its inverse DCT (to 1/2, 1/4 or 1/8 a
//! side) when less than its full size is needed: a 40-megapixel photo decoded
//! for a 512-pixel avatar takes 1/64 of the memory, and most of the
//! transform's work is skipped.
//!
//! `image`'s own JPEG decoder (zune-jpeg) cannot scale, so this uses
//! jpeg-decoder, the one image-rs wrote before. Only baseline 8-bit JPEGs in
//! grey or colour, what cameras and phones write, are decoded here: a
//! progressive JPEG's coefficients are held at full size whatever the output's,
//! and CMYK or 12-bit ones are rare; those take the full decode.

use std::io::Cursor;

use image::{DynamicImage, GrayImage, RgbImage};
use img_parts::{
    jpeg::{markers, Jpeg},
    Bytes,
};
use jpeg_decoder::Decoder;

use super::{Need, MAX_ALLOC};

/// Decodes `bytes`, a JPEG whose header [`super::decode`] has checked, at the
/// smallest scale that meets `need`; `None` when that is the full size, the
/// JPEG is not one decoded here, or this decoder fails on it (the full decode
/// then has its say, under the same limits).
pub(super) fn decode(bytes: &[u8], need: Need) -> Option<DynamicImage> {
    let (width, height, components) = frame(bytes)?;
    // jpeg-decoder takes the smallest scale at which either side is at least
    // the one asked for; asking u16::MAX of a side leaves it to the other.
    let side = |pixels: u32| u16::try_from(pixels).unwrap_or(u16::MAX);
    let (wanted_width, wanted_height) = match need {
        Need::Full => return None,
        Need::LongSide(pixels) => (side(pixels), side(pixels)),
        Need::ShortSide(pixels) if width <= height => (side(pixels), u16::MAX),
        Need::ShortSide(pixels) => (u16::MAX, side(pixels)),
    };
    let mut decoder = Decoder::new(Cursor::new(bytes));
    let (scaled_width, scaled_height) = decoder.scale(wanted_width, wanted_height).ok()?;
    decoder.set_max_decoding_buffer_size(usize::try_from(MAX_ALLOC).unwrap_or(usize::MAX));
    let pixels = decoder.decode().ok()?;
    let (scaled_width, scaled_height) = (u32::from(scaled_width), u32::from(scaled_height));
    match components {
        1 => GrayImage::from_raw(scaled_width, scaled_height, pixels).map(DynamicImage::ImageLuma8),
        _ => RgbImage::from_raw(scaled_width, scaled_height, pixels).map(DynamicImage::ImageRgb8),
    }
}

/// The width, height and number of components of a baseline (or extended
/// sequential) JPEG of 8-bit grey or colour samples, from its frame header.
fn frame(bytes: &[u8]) -> Option<(u16, u16, u8)> {
    let jpeg = Jpeg::from_bytes(Bytes::copy_from_slice(bytes)).ok()?;
    let is_frame =
        |marker| matches!(marker, 0xC0..=0xCF) && !matches!(marker, markers::DHT | markers::JPG | markers::DAC);
    let frame = jpeg.segments().iter().find(|segment| is_frame(segment.marker()))?;
    // Precision, height, width, components.
    match (frame.marker(), frame.contents().get(..6)?) {
        (markers::SOF0 | markers::SOF1, &[8, h0, h1, w0, w1, components @ (1 | 3)]) => {
            Some((u16::from_be_bytes([w0, w1]), u16::from_be_bytes([h0, h1]), components))
        }
        _ => None,
    }
}
