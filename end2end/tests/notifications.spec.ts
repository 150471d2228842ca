import { createECDH, randomBytes } from 'node:crypto';
import { expect, type BrowserContext, type Page } from '@playwright/test';
import { Contexts, dispose, friends, send, test, type Account } from './support';

// Notifications (issue 22): the service worker's push and click handlers,
// "read elsewhere" closing what it shows, the settings page in both
// languages with its test button, a chat's bell. No push service is
// reachable from the test machine, so pushes are handed to the worker
// through the DevTools protocol, and the browser's subscription is a stub
// with a real P-256 key (the server checks it).

let alice: Account;
let bob: Account;
let chatId: string;
const contexts = new Contexts();

test.beforeAll(async ({ baseURL }) => {
  [alice, bob] = await friends(baseURL!);
  const res = await alice.api.post('/api/conversations/private', { data: { user_id: bob.id } });
  expect(res.ok(), await res.text()).toBeTruthy();
  chatId = (await res.json()).conversation.id;
});

test.afterEach(async () => {
  await contexts.closeAll();
});

test.afterAll(async () => {
  await bob.api.delete('/api/me/push');
  await dispose(alice, bob);
});

/** Hands `payload` to the page's service worker as a push event. */
async function push(context: BrowserContext, page: Page, payload: object) {
  const cdp = await context.newCDPSession(page);
  const registration = new Promise<string>((resolve) => {
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const ours = registrations.find((r: { scopeURL: string; isDeleted: boolean }) => !r.isDeleted);
      if (ours) resolve(ours.registrationId);
    });
  });
  await cdp.send('ServiceWorker.enable');
  const origin = new URL(page.url()).origin;
  await cdp.send('ServiceWorker.deliverPushMessage', {
    origin,
    registrationId: await registration,
    data: JSON.stringify(payload),
  });
  await cdp.detach();
}

/** What the worker's registration shows now: title, tag and body of each notification. */
async function shown(page: Page) {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    const list = await registration.getNotifications();
    return list.map((n) => ({ title: n.title, tag: n.tag, body: n.body }));
  });
}

/** Bob's page, allowed to notify, with the service worker in control. */
async function bobs(browser: Parameters<Contexts['open']>[0], baseURL: string, path: string, options = {}) {
  const page = await contexts.open(browser, baseURL, bob, path, options);
  await page.context().grantPermissions(['notifications']);
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  return page;
}

test('a pushed message shows a notification that opens the chat and closes when read elsewhere', async ({ browser, baseURL }) => {
  const page = await bobs(browser, baseURL!, '/profile');
  const context = page.context();
  const message = {
    type: 'message',
    conversation_id: chatId,
    seq: 1,
    kind: 'text',
    sender_id: alice.id,
    sender: alice.nickname,
    preview: 'lunch at one?',
    mention: false,
  };
  await push(context, page, message);
  await expect.poll(() => shown(page)).toEqual([
    { title: alice.nickname, tag: `conversation:${chatId}`, body: 'lunch at one?' },
  ]);
  // A later message of the conversation replaces it (one tag per conversation).
  await push(context, page, { ...message, seq: 2, preview: undefined, kind: 'image' });
  await expect.poll(() => shown(page)).toEqual([{ title: alice.nickname, tag: `conversation:${chatId}`, body: 'Photo' }]);

  // What a click does: the open window goes to the chat.
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
  await worker.evaluate((url) => (self as unknown as { openChat: (u: string) => Promise<unknown> }).openChat(url), `/chats/${chatId}`);
  await expect(page).toHaveURL(new RegExp(`/chats/${chatId}$`));

  // Read on another device: the notification goes.
  await push(context, page, { type: 'read', conversation_id: chatId });
  await expect.poll(() => shown(page)).toEqual([]);

  // A call rings with a notification that waits for an answer, as long as the call rings.
  const call = { type: 'call', call_id: 'c1', conversation_id: chatId, caller: alice.nickname, media: 'video', ring_ms: 3000 };
  await push(context, page, call);
  await expect.poll(() => shown(page)).toEqual([{ title: alice.nickname, tag: 'call:c1', body: 'Incoming video call' }]);
  await expect.poll(() => shown(page), { timeout: 10_000 }).toEqual([]);
});

/** A stand-in for the browser's push subscription, with a real P-256 key, before the page loads. */
async function stubPushManager(context: BrowserContext, works: boolean) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const keys = { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
  await context.addInitScript(
    ({ keys, works }) => {
      // Kept across page loads, as the browser keeps a subscription.
      const held = () => localStorage.getItem('e2e-subscribed') === 'yes';
      const fake = {
        endpoint: 'https://push.example.com/e2e',
        options: { applicationServerKey: null },
        toJSON: () => ({ endpoint: 'https://push.example.com/e2e', keys }),
        unsubscribe: async () => {
          localStorage.removeItem('e2e-subscribed');
          return true;
        },
      };
      PushManager.prototype.getSubscription = async () => (held() ? (fake as unknown as PushSubscription) : null);
      PushManager.prototype.subscribe = async () => {
        if (!works) throw new DOMException('Registration failed - push service not available', 'AbortError');
        localStorage.setItem('e2e-subscribed', 'yes');
        return fake as unknown as PushSubscription;
      };
    },
    { keys, works },
  );
}

test('the settings page turns pushes on, sends a test, and turns them off', async ({ browser, baseURL }) => {
  const page = await contexts.open(browser, baseURL!, bob, '/profile');
  await stubPushManager(page.context(), true);
  await page.context().grantPermissions(['notifications']);
  await page.getByTestId('notifications-link').click();
  await expect(page.getByRole('heading', { name: 'Notifications', level: 1 })).toBeVisible();
  await page.reload();
  await page.locator('body[data-hydrated="true"]').waitFor();
  await expect(page.getByTestId('push-status')).toHaveText('Off for this device.');
  await page.getByTestId('push-on').click();
  await expect(page.getByTestId('push-status')).toHaveText('On for this device.');
  await page.getByTestId('push-test').click();
  await expect(page.getByTestId('form-notice').first()).toHaveText('A test notification is on its way.');
  // The server lost it (its push service said it expired, say): the next start tells it again.
  expect((await bob.api.delete('/api/me/push')).status()).toBe(204);
  expect((await bob.api.post('/api/me/push/test')).status()).toBe(404);
  await page.reload();
  await page.locator('body[data-hydrated="true"]').waitFor();
  await expect.poll(async () => (await bob.api.post('/api/me/push/test')).status()).not.toBe(404);
  // Settings kept on the server.
  await page.getByTestId('hide-previews').check();
  await expect.poll(async () => (await (await bob.api.get('/api/me/notifications')).json()).hide_previews).toBe(true);
  await page.getByTestId('quiet-hours').check();
  await expect(page.getByTestId('quiet-from')).toHaveValue('22:00');
  await expect.poll(async () => (await (await bob.api.get('/api/me/notifications')).json()).quiet_hours?.start_minute).toBe(1320);
  await page.getByTestId('push-off').click();
  await expect(page.getByTestId('push-status')).toHaveText('Off for this device.');
  await page.getByTestId('quiet-hours').uncheck();
  await page.getByTestId('hide-previews').uncheck();
});

test('in Chinese on a phone, the page says when the push service cannot be reached', async ({ browser, baseURL }) => {
  const viewport = { width: 390, height: 844 };
  const page = await contexts.open(browser, baseURL!, bob, '/settings/notifications', { locale: 'zh-CN', viewport });
  await stubPushManager(page.context(), false);
  await page.context().grantPermissions(['notifications']);
  await page.reload();
  await page.locator('body[data-hydrated="true"]').waitFor();
  await expect(page.getByRole('heading', { name: '通知', level: 1 })).toBeVisible();
  await expect(page.getByTestId('push-status')).toHaveText('此设备未开启。');
  await page.getByTestId('push-on').click();
  await expect(page.getByTestId('push-status')).toContainText('无法连接浏览器的推送服务');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, 'nothing wider than the phone').toBeLessThanOrEqual(0);
});

test("a chat's bell sets its level and mutes it", async ({ browser, baseURL }) => {
  const page = await contexts.open(browser, baseURL!, bob, `/chats/${chatId}`);
  await send(page, 'bell test');
  await page.getByTestId('chat-notify').click();
  await page.getByTestId('chat-notify-level').selectOption('mentions');
  const mine = async () => {
    const settings = await (await bob.api.get('/api/me/notifications')).json();
    return settings.conversations.find((c: { conversation_id: string }) => c.conversation_id === chatId) ?? null;
  };
  await expect.poll(async () => (await mine())?.level).toBe('mentions');
  await page.getByTestId('chat-mute-1h').click();
  await expect(page.getByTestId('chat-notify')).toHaveAttribute('data-muted', 'true');
  expect((await mine())?.muted_until_ms).toBeGreaterThan(Date.now());
  await page.getByTestId('chat-notify').click();
  await page.getByTestId('chat-unmute').click();
  await page.getByTestId('chat-notify-level').selectOption('default');
  await expect(page.getByTestId('chat-notify')).toHaveAttribute('data-muted', 'false');
  await expect.poll(mine).toBeNull();
  // Having sent a message, the chat list offers notifications once.
  await expect(page.getByTestId('notify-banner')).toBeVisible();
  await page.getByTestId('notify-later').click();
  await expect(page.getByTestId('notify-banner')).toBeHidden();
});

test('while Natter is open but not in view, a message elsewhere shows a desktop notification unless muted', async ({ browser, baseURL }) => {
  const sender = await contexts.open(browser, baseURL!, alice, `/chats/${chatId}`);
  const page = await contexts.open(browser, baseURL!, bob, '/friends');
  // The Notification API recorded, and the window as if another had the focus.
  await page.context().addInitScript(() => {
    const shown: object[] = [];
    (window as unknown as { shown: object[] }).shown = shown;
    class Recorded {
      static permission = 'granted';
      static requestPermission = async () => 'granted';
      constructor(title: string, options: { body: string; tag: string }) {
        shown.push({ title, body: options.body, tag: options.tag });
      }
      close() {}
    }
    (window as unknown as { Notification: unknown }).Notification = Recorded;
    document.hasFocus = () => false;
  });
  await page.reload();
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'online');
  const recorded = () => page.evaluate(() => (window as unknown as { shown: object[] }).shown);
  await send(sender, 'are you around?');
  await expect.poll(recorded).toEqual([{ title: alice.nickname, body: 'are you around?', tag: `conversation:${chatId}` }]);
  // Muted, the page keeps quiet too.
  const muted = { conversations: [{ conversation_id: chatId, muted_until_ms: Date.now() + 3_600_000 }] };
  expect((await bob.api.put('/api/me/notifications', { data: muted })).status()).toBe(200);
  await page.reload();
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'online');
  await page.waitForTimeout(500); // the settings load beside the connection
  await send(sender, 'still there?');
  await page.waitForTimeout(1000);
  expect(await recorded()).toEqual([]);
  expect((await bob.api.put('/api/me/notifications', { data: {} })).status()).toBe(200);
});
