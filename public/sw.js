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

// Web Push (ARCHITECTURE.md, "Notifications"). The server pushes only when
// none of the user's devices shows the conversation; each push carries a
// `PushEvent` (wire/src/push.rs) as JSON, told apart by its `type`. Notifications are tagged per
// conversation, so a later one replaces the earlier one, and a `read` push closes them.
const WORDS = {
  en: {
    text: 'New message', image: 'Photo', voice: 'Voice message', video: 'Video', file: 'File',
    test: 'Notifications work.', call: 'Incoming call', videoCall: 'Incoming video call',
    accept: 'Answer', decline: 'Decline',
  },
  zh: {
    text: '新消息', image: '图片', voice: '语音消息', video: '视频', file: '文件',
    test: '通知已可用。', call: '来电', videoCall: '视频来电',
    accept: '接听', decline: '拒绝',
  },
};

// The worker cannot read the page's language cookie: the browser's language decides.
function words() {
  return (self.navigator.language || '').toLowerCase().startsWith('zh') ? WORDS.zh : WORDS.en;
}

const chatUrl = (id) => `/chats/${encodeURIComponent(id)}`;

// The title and options of the notification for one message's payload.
function notificationOf(p) {
  const w = words();
  // Without a preview (hidden, or no text) the kind says what came.
  const what = p.preview || w[p.kind] || w.text;
  return {
    title: p.conversation || p.sender,
    options: {
      body: p.conversation ? `${p.sender}: ${what}` : what,
      tag: `conversation:${p.conversation_id}`,
      renotify: true,
      icon: '/icons/icon-192.png',
      badge: '/icons/icon-192.png',
      timestamp: Date.now(),
      data: { url: chatUrl(p.conversation_id), conversation_id: p.conversation_id, seq: p.seq },
    },
  };
}

// A call ringing: it stays until answered or dismissed, with buttons where the platform has them.
function callOf(p) {
  const w = words();
  return {
    title: p.caller,
    options: {
      body: p.media === 'video' ? w.videoCall : w.call,
      tag: `call:${p.call_id}`,
      requireInteraction: true,
      renotify: true,
      icon: '/icons/icon-192.png',
      badge: '/icons/icon-192.png',
      actions: [{ action: 'accept', title: w.accept }, { action: 'decline', title: w.decline }],
      data: { url: chatUrl(p.conversation_id), conversation_id: p.conversation_id, call_id: p.call_id },
    },
  };
}

// Closes what the device shows of a conversation read elsewhere.
async function closeRead(conversationId) {
  const shown = await self.registration.getNotifications({ tag: `conversation:${conversationId}` });
  shown.forEach((n) => n.close());
}

self.addEventListener('push', (event) => {
  let payload;
  try {
    payload = event.data ? event.data.json() : null;
  } catch (err) {
    payload = null;
  }
  const type = payload && payload.type;
  if (type === 'read') {
    event.waitUntil(closeRead(payload.conversation_id));
    return;
  }
  if (type === 'call') {
    // Shown while the call could still ring, then gone: the worker stays awake that long.
    const { title, options } = callOf(payload);
    const ringing = (ms) => new Promise((done) => setTimeout(done, Math.min(ms || 0, 120000)));
    event.waitUntil(self.registration.showNotification(title, options)
      .then(() => ringing(payload.ring_ms))
      .then(() => self.registration.getNotifications({ tag: options.tag }))
      .then((shown) => shown.forEach((n) => n.close())));
    return;
  }
  // Browsers require a notification for every other push; one that cannot be read says only that something came.
  const notice = (body) => ({ title: 'Natter', options: { body, tag: 'natter', icon: '/icons/icon-192.png' } });
  const { title, options } = type === 'message' ? notificationOf(payload)
    : notice(type === 'test' ? words().test : words().text);
  event.waitUntil(self.registration.showNotification(title, options));
});

// A click opens the conversation: in a window of the app if one is open, else in a new one.
// Decline tells the server, which stops the ringing on every tab and tells the caller.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  if (event.action === 'decline') {
    if (data.call_id) {
      const url = `/api/calls/${encodeURIComponent(data.call_id)}/decline`;
      event.waitUntil(fetch(url, { method: 'POST', credentials: 'same-origin' }).catch(() => {}));
    }
    return;
  }
  event.waitUntil(openChat(data.url || '/chats'));
});

async function openChat(path) {
  const url = new URL(path, self.location.origin).href;
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const open = windows.find((c) => c.url === url) || windows.find((c) => new URL(c.url).origin === self.location.origin);
  if (!open) return self.clients.openWindow(url);
  // Focus is allowed in answer to a click only; the window is navigated either way.
  const focused = await open.focus().catch(() => open);
  if (focused.url === url) return focused;
  // Only a window this worker controls can be navigated by it.
  return focused.navigate(url).catch(() => self.clients.openWindow(url));
}

// The push service replaced the subscription (it expired, or the browser
// rotated it): subscribe again with the server's key and tell the server.
// Without a signed-in cookie the server refuses, and the app tells it on its next start (`notify::push_renew`).
self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil((async () => {
    const answer = await fetch('/api/push/key', { credentials: 'same-origin' });
    if (!answer.ok) return;
    const { public_key: key } = await answer.json();
    const bytes = Uint8Array.from(atob(key.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
    const subscription = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytes });
    await fetch('/api/me/push', {
      method: 'PUT',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(subscription.toJSON()),
    });
  })());
});
