//! How fast the text policy (shortcodes, then the sensitive-word matcher)
//! handles messages, with a word list of realistic size. Prints figures;
//! run with `cargo bench -p natter-server --bench text_policy`.

use std::{hint::black_box, time::Instant};

use natter_server::text::{filter::Matcher, SensitivePolicy, TextPolicy};

/// A deterministic list of `n` words: half Latin, half Chinese.
fn words(n: usize) -> Vec<String> {
    let mut seed = 0x2545_f491_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    (0..n)
        .map(|i| {
            let len = 3 + next() as usize % 6;
            if i % 2 == 0 {
                (0..len).map(|_| char::from(b'a' + (next() % 26) as u8)).collect()
            } else {
                (0..len / 2 + 1).map(|_| char::from_u32(0x4e00 + (next() % 0x5000) as u32).unwrap()).collect()
            }
        })
        .collect()
}

fn measure(name: &str, policy: &TextPolicy, text: &str, rounds: u32) {
    let started = Instant::now();
    for _ in 0..rounds {
        black_box(policy.apply(black_box(text)).ok());
    }
    let per = started.elapsed() / rounds;
    let mib_s = text.len() as f64 / per.as_secs_f64() / (1024.0 * 1024.0);
    println!("{name:<44} {:>5} chars  {:>9.1} µs/message  {mib_s:>7.1} MiB/s", text.chars().count(), per.as_secs_f64() * 1e6);
}

fn main() {
    for n in [100, 10_000] {
        let list = words(n);
        let started = Instant::now();
        let matcher = Matcher::new(list.iter().map(String::as_str)).unwrap();
        println!("{n} words: matcher built in {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
        let policy = TextPolicy::new(SensitivePolicy::Mask, matcher);
        let short = "See you at 10:30 :smile: 我们明天见";
        let latin = "The quick brown fox jumps over the lazy dog :+1: ".repeat(90);
        let chinese = "今天天气很好，我们一起去公园散步吧。".repeat(200);
        let hit = format!("{} {}", list[0], list[1]).repeat(200);
        measure(&format!("  short mixed ({n} words)"), &policy, short, 20_000);
        measure(&format!("  Latin, 4,000 chars ({n} words)"), &policy, &latin[..4000], 500);
        measure(&format!("  Chinese, 3,600 chars ({n} words)"), &policy, &chinese, 500);
        measure(&format!("  listed words throughout, masked ({n} words)"), &policy, &hit, 500);
    }
}
