//! Scenario 8's measures: the size of the built wasm (raw and brotli), and a
//! cold page load in headless Chromium driven by `page-load.cjs` (Playwright).

use std::{io::Write, path::Path, process::Command};

use serde::Deserialize;

/// The raw and brotli (quality 11) sizes of the site's wasm, in bytes.
pub fn wasm_sizes(site_root: &Path) -> Result<(u64, u64), String> {
    let pkg = site_root.join("pkg");
    let wasm = std::fs::read_dir(&pkg)
        .map_err(|e| format!("{}: {e} (build the site with `cargo leptos build --release`)", pkg.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "wasm"))
        .ok_or_else(|| format!("no .wasm in {}", pkg.display()))?;
    let bytes = std::fs::read(&wasm).map_err(|e| format!("{}: {e}", wasm.display()))?;
    let mut compressed = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut compressed, 64 * 1024, 11, 22);
        writer.write_all(&bytes).map_err(|e| e.to_string())?;
    }
    Ok((bytes.len() as u64, compressed.len() as u64))
}

/// Median times of cold loads, in ms.
#[derive(Debug, Deserialize)]
pub struct PageTimes {
    pub first_paint_ms: f64,
    pub interactive_ms: f64,
    pub runs: usize,
}

/// Runs the Playwright script against `url` (`node_path` is where Playwright is installed).
pub fn page_times(script: &Path, node_path: &Path, url: &str, runs: usize) -> Result<PageTimes, String> {
    let output = Command::new("node")
        .arg(script)
        .arg(url)
        .arg(runs.to_string())
        .env("NODE_PATH", node_path)
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    if !output.status.success() {
        return Err(format!("{} failed: {}", script.display(), String::from_utf8_lossy(&output.stderr).trim()));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("{}: {e}", script.display()))
}
