//! `natter-loadtest image-flood`: many users at once each upload a
//! 36-megapixel image as a message image (`POST /api/files?kind=image`),
//! against a fresh node with its default image limits, a few rounds: once a
//! PNG that compresses to a small file (a decompression bomb: ~100 KiB on
//! the wire, 108 MB of pixels), once a noisy JPEG. Prints the answers by
//! status and code, the node's RSS before and its peak (`VmHWM`, reset
//! before each image), and how long a real user's small uploads took
//! meanwhile. See docs/PERFORMANCE.md.

use std::{
    collections::BTreeMap,
    io::Cursor,
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use image::{
    codecs::{
        jpeg::JpegEncoder,
        png::{CompressionType, FilterType, PngEncoder},
    },
    ImageBuffer, ImageEncoder, Rgb,
};
use serde_json::json;
use wire::{endpoint, protocol::ApiError};

use crate::{
    bench::{Bench, NODE_1},
    client::code_name,
    procs::{self, status_kb, Usage},
    users::{self, Account, Api},
};

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// An image to upload: its name, type and bytes (leaked: one run's worth,
/// shared by every upload without a copy).
#[derive(Clone, Copy)]
struct Upload {
    name: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
}

/// A `side`×`side` RGB checkerboard of 100-pixel squares as a PNG: each row
/// is the one above it, so with the `Up` filter it deflates to ~1/1000.
fn bomb_png(side: u32) -> Result<Vec<u8>, String> {
    let pixels = ImageBuffer::from_fn(side, side, |x, y| {
        if (x / 100 + y / 100) % 2 == 0 {
            Rgb([240u8, 240, 240])
        } else {
            Rgb([30, 60, 90])
        }
    });
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Up)
        .write_image(pixels.as_raw(), side, side, image::ExtendedColorType::Rgb8)
        .map_err(|e| format!("PNG: {e}"))?;
    Ok(out)
}

/// A `side`×`side` gradient with noise as a JPEG (quality 75): a photo's
/// worth of detail, megabytes on the wire.
fn noisy_jpeg(side: u32) -> Result<Vec<u8>, String> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let pixels = ImageBuffer::from_fn(side, side, |x, y| {
        // xorshift64: cheap noise, the same every run.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let noise = |shift: u32| ((state >> shift) & 31) as i32 - 16;
        let base = [(x * 255 / side) as i32, (y * 255 / side) as i32, ((x + y) * 255 / (2 * side)) as i32];
        Rgb([0, 1, 2].map(|c| (base[c] + noise(8 * c as u32)).clamp(0, 255) as u8))
    });
    let mut out = Cursor::new(Vec::new());
    JpegEncoder::new_with_quality(&mut out, 75).encode_image(&pixels).map_err(|e| format!("JPEG: {e}"))?;
    Ok(out.into_inner())
}

/// A 64×64 PNG, a real user's small image.
fn small_png() -> Vec<u8> {
    let pixels = ImageBuffer::from_fn(64, 64, |x, y| Rgb([(x * 4) as u8, (y * 4) as u8, 128u8]));
    let mut out = Vec::new();
    PngEncoder::new(&mut out).write_image(pixels.as_raw(), 64, 64, image::ExtendedColorType::Rgb8).expect("a small PNG encodes");
    out
}

fn client_from(n: u8) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| e.to_string())
}

/// One upload as a message of `kind`; its status ("0" if it broke off), the
/// error code when it failed, and how long it took.
async fn upload(client: &reqwest::Client, base: &str, token: &str, file: Upload, kind: &str) -> (u16, String, Duration) {
    let url = format!("{base}{}?name={}&kind={kind}", endpoint::FILES, file.name);
    let start = Instant::now();
    let sent = client.post(url).bearer_auth(token).header("content-type", file.mime).body(file.bytes).send().await;
    let (status, code) = match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.bytes().await.unwrap_or_default();
            let code = match status {
                200..=299 => String::new(),
                _ => serde_json::from_slice::<ApiError>(&body).map(|e| code_name(&e.code)).unwrap_or_else(|_| "?".into()),
            };
            (status, code)
        }
        Err(e) => (0, if e.is_timeout() { "timeout".into() } else { "broken".into() }),
    };
    (status, code, start.elapsed())
}

/// `users` upload `rounds` times at once each image (sides of `side`
/// pixels); `server_args` go to the node.
pub async fn flood(bench: &Bench, users: usize, rounds: usize, side: u32, server_args: &[String]) -> Result<(), String> {
    eprintln!("making a {side}×{side} PNG and JPEG …");
    let made = Instant::now();
    let (png, jpeg) = tokio::task::spawn_blocking(move || Ok::<_, String>((bomb_png(side)?, noisy_jpeg(side)?)))
        .await
        .map_err(|e| e.to_string())??;
    let images = [
        Upload { name: "bomb.png", mime: "image/png", bytes: png.leak() },
        Upload { name: "noise.jpg", mime: "image/jpeg", bytes: jpeg.leak() },
    ];
    eprintln!(
        "  in {:.1} s: PNG {:.0} KiB, JPEG {:.1} MiB ({:.1} megapixels each)",
        made.elapsed().as_secs_f64(),
        images[0].bytes.len() as f64 / 1024.0,
        mib(images[1].bytes.len() as u64),
        (side as f64).powi(2) / 1e6
    );
    let node = bench.fresh_node("image-flood", server_args).await?;
    let result = run(bench, &node, users, rounds, side, &images).await;
    node.stop().await;
    result
}

async fn run(bench: &Bench, node: &procs::Proc, users: usize, rounds: usize, side: u32, images: &[Upload]) -> Result<(), String> {
    let base = format!("http://{}", bench.addr(NODE_1));
    let api = Api::new(bench.addr(NODE_1));
    let accounts: Vec<Account> = users::accounts(&api, None, users + 1, users::WriteBack::Discard).await?;
    let (real, flooders) = accounts.split_last().expect("at least one account");
    let placement = procs::placement();
    let clients = (0..users).map(|i| client_from(2 + (i % 150) as u8)).collect::<Result<Vec<_>, _>>()?;
    let real_client = client_from(200)?;
    let small = Upload { name: "small.png", mime: "image/png", bytes: small_png().leak() };
    let text = Upload { name: "note.txt", mime: "text/plain", bytes: b"a small file, sent during the flood\n" };
    for image in images {
        // Settle, then measure this image's peak from the RSS now.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let peak_reset = procs::reset_peak(node.pid);
        let before = node.usage();
        let tool_before = Usage::of(std::process::id());
        let mut answers = BTreeMap::<String, usize>::new();
        let mut real_ms = Vec::new();
        let mut slowest = Duration::ZERO;
        let started = Instant::now();
        for round in 0..rounds {
            let uploads = flooders.iter().zip(&clients).map(|(a, c)| upload(c, &base, &a.token, *image, "image"));
            let (results, real_times) = tokio::join!(join_all(uploads), async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let small_image = upload(&real_client, &base, &real.token, small, "image").await;
                let small_file = upload(&real_client, &base, &real.token, text, "file").await;
                (small_image, small_file)
            });
            for (status, code, took) in results {
                slowest = slowest.max(took);
                *answers.entry(format!("{status} {code}").trim().to_owned()).or_default() += 1;
            }
            let ((si_status, _, si_took), (sf_status, _, sf_took)) = real_times;
            eprintln!(
                "  {} round {}: peak so far {:.0} MiB; real user's small image {si_status} in {} ms, small file {sf_status} in {} ms",
                image.name,
                round + 1,
                mib(status_kb(node.pid, "VmHWM:") * 1024),
                si_took.as_millis(),
                sf_took.as_millis()
            );
            real_ms.push((format!("{si_status} in {} ms", si_took.as_millis()), format!("{sf_status} in {} ms", sf_took.as_millis())));
        }
        let burst = started.elapsed();
        let peak = status_kb(node.pid, "VmHWM:") * 1024;
        let during = node.usage();
        let tool_cpu = Usage::of(std::process::id()).cpu_percent_since(&tool_before);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = node.usage();
        let answers_line: Vec<String> = answers.iter().map(|(a, n)| format!("{n}× {a}")).collect();
        let real_images: Vec<&str> = real_ms.iter().map(|r| r.0.as_str()).collect();
        let real_files: Vec<&str> = real_ms.iter().map(|r| r.1.as_str()).collect();
        let figures = json!({
            "benchmark": "image-flood",
            "image": image.name,
            "megapixels": (side as f64).powi(2) / 1e6,
            "bytes": image.bytes.len(),
            "users": flooders.len(),
            "rounds": rounds,
            "answers": answers,
            "slowest_upload_ms": slowest.as_millis() as u64,
            "seconds": burst.as_secs_f64(),
            "rss_before_mib": mib(before.rss_bytes),
            "peak_rss_mib": mib(peak),
            "peak_reset": peak_reset,
            "rss_2s_after_mib": mib(after.rss_bytes),
            "server_cpu_percent": during.cpu_percent_since(&before),
            "load_generator_cpu_percent": tool_cpu,
            "real_small_image": real_images,
            "real_small_file": real_files,
            "placement": placement,
        });
        println!("{figures}");
        println!(
            "{} × {rounds} rounds of {:.0} MP {} ({:.0} KiB) uploaded at once as image messages in {:.1} s: {}; \
             RSS before {:.0} MiB, peak {:.0} MiB{}, 2 s after {:.0} MiB; server CPU {:.0}%, load generator CPU {tool_cpu:.0}%; \
             a real user's small image each round: {}; a small file: {}",
            flooders.len(),
            (side as f64).powi(2) / 1e6,
            image.name,
            image.bytes.len() as f64 / 1024.0,
            burst.as_secs_f64(),
            answers_line.join(", "),
            mib(before.rss_bytes),
            mib(peak),
            if peak_reset { "" } else { " (since the start: the peak could not be reset)" },
            mib(after.rss_bytes),
            during.cpu_percent_since(&before),
            real_images.join(", "),
            real_files.join(", "),
        );
    }
    Ok(())
}
