//! Scenario 8's measures: the size of the built wasm (raw and brotli), and a
//! cold page load in headless Chromium driven by `page-load.cjs` (Playwright).

use std::{io::Write, path::Path, process::Command};

use serde::Deserialize;

/// The site's wasm: the module every page loads first, and, when it was
/// built with `--split`, what a cold load of each page fetches besides.
pub struct WasmSizes {
    pub raw: u64,
    pub brotli: u64,
    /// Per lazily loaded page (lazy route), the brotli bytes of the main
    /// module and every chunk the page needs, each compressed on its own as
    /// it is served; largest first.
    pub pages: Vec<(String, u64)>,
}

/// The split loader's manifest: each lazy function's chunks.
const MANIFEST: &str = "__wasm_split_manifest.json";

pub fn wasm_sizes(site_root: &Path) -> Result<WasmSizes, String> {
    let pkg = site_root.join("pkg");
    let name = |e: std::fs::DirEntry| e.file_name().to_string_lossy().into_owned();
    let main = std::fs::read_dir(&pkg)
        .map_err(|e| format!("{}: {e} (build the site with `cargo leptos build --release --split`)", pkg.display()))?
        .filter_map(|e| e.ok().map(name))
        .find(|n| n.ends_with(".wasm") && !n.starts_with("chunk_") && !n.starts_with("split_"))
        .ok_or_else(|| format!("no main .wasm in {}", pkg.display()))?;
    let (raw, brotli) = file_sizes(&pkg.join(&main))?;
    let mut pages = Vec::new();
    if let Ok(text) = std::fs::read_to_string(pkg.join(MANIFEST)) {
        let manifest: std::collections::BTreeMap<String, Vec<String>> =
            serde_json::from_str(&text).map_err(|e| format!("{MANIFEST}: {e}"))?;
        // `__chats_page_view_<hash>` → `chats`; the other entries are parts
        // loaded on first use (the emoji picker, a call's view), not on a cold load.
        let page = |key: &str| key.trim_start_matches("__").split_once("_page_view_").map(|(page, _)| page.to_owned());
        let chunks: std::collections::BTreeMap<String, &Vec<String>> =
            manifest.iter().filter_map(|(k, v)| Some((page(k)?, v))).collect();
        for (page, files) in &chunks {
            let mut total = brotli;
            for file in files.iter() {
                total += file_sizes(&pkg.join(format!("{file}.wasm")))?.1;
            }
            pages.push((page.clone(), total));
        }
        pages.sort_by_key(|page| std::cmp::Reverse(page.1));
    }
    Ok(WasmSizes { raw, brotli, pages })
}

/// A file's raw and brotli (quality 11) sizes, in bytes.
fn file_sizes(path: &Path) -> Result<(u64, u64), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut compressed = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut compressed, 64 * 1024, 11, 22);
        writer.write_all(&bytes).map_err(|e| e.to_string())?;
    }
    Ok((bytes.len() as u64, compressed.len() as u64))
}

/// Medians of cold loads: times in ms, and the wasm bytes fetched as served
/// (compressed when the site was built with `--precompress`).
#[derive(Debug, Deserialize)]
pub struct PageTimes {
    pub first_paint_ms: f64,
    pub interactive_ms: f64,
    pub wasm_bytes: u64,
}

/// Runs the Playwright script against `url` (`node_path` is where Playwright
/// is installed), signed in with `token` when given.
pub fn page_times(script: &Path, node_path: &Path, url: &str, runs: usize, token: Option<&str>) -> Result<PageTimes, String> {
    let output = Command::new("node")
        .arg(script)
        .arg(url)
        .arg(runs.to_string())
        .args(token)
        .env("NODE_PATH", node_path)
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    if !output.status.success() {
        return Err(format!("{} failed: {}", script.display(), String::from_utf8_lossy(&output.stderr).trim()));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("{}: {e}", script.display()))
}
