// Natter's service worker: keeps the app shell so the app opens offline.
// Bump CACHE when the caching rules or the shell list change; activation then
// drops the old caches.
const CACHE = 'natter-shell-v1';
const SHELL = ['/', '/manifest.webmanifest', '/icons/icon.svg', '/icons/icon-192.png'];

// Live data and operational endpoints always go straight to the server.
const BYPASS = ['/api/', '/ws', '/healthz', '/readyz', '/metrics'];
const STATIC_FILE = /\.(?:css|js|wasm|svg|png|ico|webp|woff2?|webmanifest)$/;

self.addEventListener('install', (event) => {
  // Cache each entry on its own: one missing file must not fail the install.
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => Promise.allSettled(SHELL.map((url) => cache.add(url))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  if (BYPASS.some((p) => url.pathname.startsWith(p))) return;

  if (req.mode === 'navigate') {
    event.respondWith(page(event, url));
  } else if (url.pathname.startsWith('/pkg/')) {
    // cargo-leptos names the bundle without a content hash, so a stale copy
    // would not match freshly rendered HTML and hydration would fail.
    event.respondWith(networkFirst(event));
  } else if (url.pathname.startsWith('/icons/') || STATIC_FILE.test(url.pathname)) {
    event.respondWith(staleWhileRevalidate(event));
  }
  // Anything else is left to the browser.
});

// Stores a good response without delaying the page; the worker stays alive until done.
function store(event, key, res) {
  if (res.ok) {
    const copy = res.clone(); // now, before the page starts reading the body
    event.waitUntil(caches.open(CACHE).then((c) => c.put(key, copy)));
  }
  return res;
}

// Pages come fresh from the server (they carry the user's language and data).
// Offline, every page falls back to the start page, so only `/` is stored.
async function page(event, url) {
  try {
    const res = await fetch(event.request);
    return url.pathname === '/' ? store(event, '/', res) : res;
  } catch (err) {
    const shell = await caches.match('/');
    if (shell) return shell;
    throw err;
  }
}

async function networkFirst(event) {
  try {
    return store(event, event.request, await fetch(event.request));
  } catch (err) {
    const cached = await caches.match(event.request);
    if (cached) return cached;
    throw err;
  }
}

async function staleWhileRevalidate(event) {
  const cached = await caches.match(event.request);
  const refresh = fetch(event.request).then((res) => store(event, event.request, res));
  if (!cached) return refresh;
  event.waitUntil(refresh.catch(() => {})); // offline: keep serving the cached copy
  return cached;
}
