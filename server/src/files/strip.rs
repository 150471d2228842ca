//! A JPEG's metadata dropped without decoding it. The copy served in place of
//! an uploaded photo keeps its compressed pixels bit for bit (no loss, and no
//! full-size decode to make it) but loses EXIF (GPS position, camera serial
//! number, an embedded preview), XMP, IPTC, comments, and whatever follows the
//! image (a motion photo's video, the other images of an MPF file). What the
//! picture needs to look the same stays: the JFIF header without its
//! thumbnail, Adobe's colour transform, the ICC profile, and the orientation,
//! in an EXIF block holding nothing else.

use image::metadata::Orientation;
use img_parts::{
    jpeg::{markers, Jpeg, JpegSegment},
    Bytes, ImageEXIF, ImageICC,
};

/// `jpeg` without its metadata, or `None` when its structure is not one this
/// understands (metadata between its scans, say): it is then re-encoded.
pub fn jpeg(jpeg: &[u8]) -> Option<Vec<u8>> {
    let bytes = Bytes::copy_from_slice(jpeg);
    let mut jpeg = Jpeg::from_bytes(bytes.clone()).ok()?;
    let orientation = jpeg.exif().and_then(|exif| Orientation::from_exif_chunk(&exif));
    let icc = jpeg.icc_profile();
    // img-parts keeps everything after the first scan header as that
    // segment's entropy-coded data: the file's tail.
    let scan = jpeg.segments_mut().pop().filter(JpegSegment::has_entropy)?;
    let data = bytes.slice(bytes.len() - (scan.len_with_entropy() - scan.len())..);
    let data = data.slice(..image_end(&data)?);
    let kept: Vec<JpegSegment> = jpeg.segments_mut().drain(..).filter_map(kept).collect();
    *jpeg.segments_mut() = kept;
    jpeg.segments_mut().push(JpegSegment::new_with_entropy(scan.marker(), scan.contents().clone(), data));
    jpeg.set_icc_profile(icc);
    if let Some(orientation) = orientation.filter(|&o| o != Orientation::NoTransforms) {
        jpeg.set_exif(Some(orientation_exif(orientation)));
    }
    Some(jpeg.encoder().bytes().to_vec())
}

/// `segment` as the clean copy keeps it, if at all. ICC profile segments go
/// too: [`jpeg`] puts the profile back whole.
fn kept(segment: JpegSegment) -> Option<JpegSegment> {
    match segment.marker() {
        // JFIF: version, density units, density, then the thumbnail's size
        // and pixels; the copy says it has none.
        markers::APP0 => {
            let header = segment.contents().get(..12).filter(|c| c.starts_with(b"JFIF\0"))?;
            let contents = Bytes::from([header, &[0, 0]].concat());
            Some(JpegSegment::new_with_contents(markers::APP0, contents))
        }
        markers::APP14 => Some(segment),
        markers::APP1..=markers::APP15 | markers::COM => None,
        _ => Some(segment),
    }
}

/// Where the image ends in `data`, what follows the first scan header: just
/// past its EOI marker, or at the end without one; `None` when anything but
/// tables and scans comes between the scans.
fn image_end(data: &[u8]) -> Option<usize> {
    let mut at = 0;
    while at + 1 < data.len() {
        if data[at] != markers::P {
            at += 1;
            continue;
        }
        match data[at + 1] {
            markers::P => at += 1, // a fill byte
            markers::Z | markers::RST0..=markers::RST7 => at += 2, // an escaped 0xFF, a restart marker
            markers::EOI => return Some(at + 2),
            markers::DHT | markers::DQT | markers::DRI | markers::DNL | markers::SOS => {
                let length = u16::from_be_bytes([*data.get(at + 2)?, *data.get(at + 3)?]);
                at += 2 + usize::from(length);
            }
            _ => return None,
        }
    }
    Some(data.len())
}

/// An EXIF block (TIFF header, big-endian) holding only `orientation`.
pub(crate) fn orientation_exif(orientation: Orientation) -> Bytes {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec(); // the first directory follows
    tiff.extend(1u16.to_be_bytes()); // one entry:
    tiff.extend([0x01, 0x12, 0, 3]); // Orientation, a SHORT,
    tiff.extend(1u32.to_be_bytes()); // one of them,
    tiff.extend([0, orientation.to_exif(), 0, 0]); // its value, padded;
    tiff.extend(0u32.to_be_bytes()); // no next directory
    Bytes::from(tiff)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

    use super::*;

    /// A noisy baseline JPEG, as `image` writes it (JFIF, no other metadata).
    fn photo(width: u32, height: u32) -> Vec<u8> {
        let image: DynamicImage =
            RgbImage::from_fn(width, height, |x, y| Rgb([(x * 7 ^ y * 13) as u8, (x + y) as u8, (x * y) as u8])).into();
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    fn pixels(jpeg: &[u8]) -> DynamicImage {
        image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg).unwrap()
    }

    /// EXIF with an orientation, a camera name and a GPS position.
    fn revealing_exif(orientation: u8) -> Bytes {
        let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
        tiff.extend(3u16.to_be_bytes()); // three entries:
        tiff.extend([0x01, 0x0F, 0, 2, 0, 0, 0, 10, 0, 0, 0, 50]); // Make, ASCII, 10 bytes at 50,
        tiff.extend([0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0]); // Orientation,
        tiff.extend([0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 60]); // the GPS directory, at 60;
        tiff.extend(0u32.to_be_bytes()); // no next directory
        tiff.extend(b"SecretCam\0");
        tiff.extend(1u16.to_be_bytes()); // GPS: one entry,
        tiff.extend([0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]); // GPSLatitudeRef "N"
        tiff.extend(0u32.to_be_bytes());
        Bytes::from(tiff)
    }

    /// `photo` with every kind of metadata, and a video after its end.
    fn revealing_photo() -> (Vec<u8>, Bytes) {
        let mut jpeg = Jpeg::from_bytes(Bytes::from(photo(96, 64))).unwrap();
        let icc = Bytes::from_static(b"a colour profile, not a real one");
        jpeg.set_icc_profile(Some(icc.clone()));
        jpeg.set_exif(Some(revealing_exif(6)));
        let segments = jpeg.segments_mut();
        let jfif = segments.iter().position(|s| s.marker() == markers::APP0).unwrap();
        let with_thumbnail = [&segments[jfif].contents()[..12], &[1, 1, 9, 9, 9]].concat();
        segments[jfif] = JpegSegment::new_with_contents(markers::APP0, Bytes::from(with_thumbnail));
        let xmp = Bytes::from_static(b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>SecretXmp</x:xmpmeta>");
        segments.insert(2, JpegSegment::new_with_contents(markers::APP1, xmp));
        segments.insert(2, JpegSegment::new_with_contents(markers::APP13, Bytes::from_static(b"Photoshop 3.0\0IPTC")));
        segments.insert(2, JpegSegment::new_with_contents(markers::COM, Bytes::from_static(b"SecretComment")));
        let mut bytes = jpeg.encoder().bytes().to_vec();
        bytes.extend(b"ftypmp42 SecretVideo");
        (bytes, icc)
    }

    #[test]
    fn metadata_goes_but_the_picture_and_what_shows_it_stay() {
        let (original, icc) = revealing_photo();
        let clean = jpeg(&original).unwrap();
        for secret in [b"SecretCam".as_slice(), b"SecretXmp", b"SecretComment", b"SecretVideo", b"IPTC"] {
            assert!(original.windows(secret.len()).any(|w| w == secret));
            assert!(!clean.windows(secret.len()).any(|w| w == secret), "{}", String::from_utf8_lossy(secret));
        }
        let clean_jpeg = Jpeg::from_bytes(Bytes::from(clean.clone())).unwrap();
        assert_eq!(clean_jpeg.exif(), Some(orientation_exif(Orientation::Rotate90)));
        assert_eq!(clean_jpeg.icc_profile(), Some(icc));
        let jfif = clean_jpeg.segment_by_marker(markers::APP0).unwrap();
        assert_eq!((jfif.contents().len(), &jfif.contents()[12..]), (14, [0, 0].as_slice()), "no JFIF thumbnail");
        // The same compressed pixels: they decode the same, bit for bit.
        assert_eq!(pixels(&clean), pixels(&original));
        assert!(clean.ends_with(&[markers::P, markers::EOI]));
    }

    #[test]
    fn a_jpeg_without_metadata_is_kept_as_it_is() {
        let original = photo(40, 30);
        assert_eq!(jpeg(&original).unwrap(), original);
        let mut upright = Jpeg::from_bytes(Bytes::from(original.clone())).unwrap();
        upright.set_exif(Some(revealing_exif(1)));
        assert_eq!(jpeg(&upright.encoder().bytes()).unwrap(), original, "orientation 1 needs no EXIF");
    }

    #[test]
    fn metadata_after_the_scan_or_a_broken_file_is_left_to_re_encoding() {
        let original = photo(40, 30);
        let eoi = original.len() - 2;
        let comment_inside = [&original[..eoi], b"\xFF\xFE\0\x08Secret", &original[eoi..]].concat();
        assert_eq!(jpeg(&comment_inside), None);
        assert_eq!(jpeg(b"\xFF\xD8\xFF\xE1\xFF"), None);
        assert_eq!(jpeg(b"not a JPEG"), None);
    }
}
