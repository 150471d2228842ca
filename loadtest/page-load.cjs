// Cold page loads of Natter in headless Chromium: for each run a fresh
// browser context (no cache, no service worker), the time to first
// contentful paint and to interactive (the app marks <body data-hydrated>
// once hydrated), and the bytes of wasm that came over the wire (as
// served: compressed). Prints the medians as JSON: used by natter-loadtest.
// Usage: NODE_PATH=end2end/node_modules node loadtest/page-load.cjs URL [RUNS [TOKEN]]
// With TOKEN, the page loads signed in (the session cookie is set first).
const { chromium } = require("@playwright/test");

const [url, runsArg, token] = process.argv.slice(2);
const runs = Number(runsArg || 5);
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium" });
  const paints = [];
  const interactive = [];
  const wasmBytes = [];
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ serviceWorkers: "block" });
    // The cookie for the whole site (given the page's URL, it would hold for its folder only).
    if (token) await context.addCookies([{ name: "natter_token", value: token, url: new URL("/", url).href }]);
    const page = await context.newPage();
    await page.addInitScript(() => {
      new MutationObserver((_, observer) => {
        if (document.body && document.body.hasAttribute("data-hydrated")) {
          window.__hydratedAt = performance.now();
          observer.disconnect();
        }
      }).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-hydrated"] });
    });
    await page.goto(url);
    await page.waitForSelector("body[data-hydrated]", { timeout: 30000 });
    const times = await page.evaluate(() => {
      const fcp = performance.getEntriesByName("first-contentful-paint")[0];
      const wasm = performance
        .getEntriesByType("resource")
        .filter((r) => new URL(r.name).pathname.endsWith(".wasm"))
        .reduce((sum, r) => sum + r.encodedBodySize, 0);
      return { paint: fcp ? fcp.startTime : NaN, interactive: window.__hydratedAt, wasm };
    });
    paints.push(times.paint);
    interactive.push(times.interactive);
    wasmBytes.push(times.wasm);
    await context.close();
  }
  await browser.close();
  console.log(
    JSON.stringify({ first_paint_ms: median(paints), interactive_ms: median(interactive), wasm_bytes: median(wasmBytes), runs }),
  );
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
