import { expect, request as playwrightRequest, type Browser } from '@playwright/test';

import {
  Contexts,
  dispose,
  friends,
  fromMenu,
  group,
  messages,
  PASSWORD,
  register,
  row,
  send,
  test,
  type Account,
  type Options,
} from './support';

// Conversations in the browser: private chats and groups between two users,
// live delivery, unread badges, safe rendering, catching up after going
// offline, the group panel, invitations and the public directory.
//
// The two users are registered once, through the API (sign-up is rate
// limited per IP), and made friends; each test opens its own browser
// contexts with their cookies and uses its own conversations.

let alice: Account;
let bob: Account;

test.beforeAll(async ({ baseURL }) => {
  [alice, bob] = await friends(baseURL!);
});

test.afterAll(() => dispose(alice, bob));

const contexts = new Contexts();
test.afterEach(() => contexts.closeAll());

function openAs(browser: Browser, baseURL: string, account: Account, path: string, options?: Options) {
  return contexts.open(browser, baseURL, account, path, options);
}

test('two friends chat in private, live', async ({ browser, baseURL }) => {
  const a = await openAs(browser, baseURL!, alice, '/chats');
  const b = await openAs(browser, baseURL!, bob, '/chats');

  await a.getByTestId('new-chat').click();
  await a.getByTestId('new-chat-dialog').getByTestId('friend-row').filter({ hasText: bob.nickname }).getByTestId('start-chat').click();
  await expect(a).toHaveURL(/\/chats\/p-/);
  const id = a.url().split('/chats/')[1];

  // Bob's list learns of the new chat as it happens, and shows Alice.
  await expect(row(b, id)).toContainText(alice.nickname);
  await row(b, id).click();
  await expect(b).toHaveURL(new RegExp(`/chats/${id}$`));

  const hello = `Hello Bob ${Date.now()}`;
  await send(a, hello);
  const seen = messages(b, hello);
  await expect(seen).toHaveCount(1);
  await expect(seen.getByTestId('message-sender')).toHaveText(alice.nickname);
  await expect(seen.getByTestId('message-time')).toHaveText(/\d{1,2}:\d{2}/);

  const reply = `Hi Alice ${Date.now()}`;
  await send(b, reply);
  await expect(messages(a, reply)).toHaveCount(1);
  await expect(messages(a, reply).getByTestId('message-sender')).toHaveText(bob.nickname);
  // Alice's list shows the newest message as the preview.
  await expect(row(a, id)).toContainText(reply);
});

test('a group: created with a friend, both chat, unread counts rise and clear', async ({ browser, baseURL }) => {
  const a = await openAs(browser, baseURL!, alice, '/chats');
  const b = await openAs(browser, baseURL!, bob, '/chats');

  const name = `Group ${Date.now()}`;
  await a.getByTestId('new-group').click();
  await a.getByTestId('group-name').fill(name);
  await a.getByTestId('new-group-dialog').locator('label', { hasText: bob.nickname }).getByTestId('member-pick').check();
  await a.getByTestId('create-group').click();
  await expect(a).toHaveURL(/\/chats\/[^/]+$/);
  const id = a.url().split('/chats/')[1];

  const badge = row(b, id).getByTestId('unread');
  await expect(row(b, id)).toContainText(name);
  await expect(badge).toBeHidden();

  await send(a, 'first of two');
  await expect(badge).toBeVisible();
  await expect(badge).toHaveText(/^1\b/);
  await send(a, 'second of two');
  await expect(badge).toHaveText(/^2\b/);
  // The newest conversation is on top.
  await expect(b.getByTestId('chat-row').first()).toHaveAttribute('data-conversation-id', id);

  await row(b, id).click();
  await expect(messages(b, 'second of two')).toBeVisible();
  await expect(badge).toBeHidden();

  await send(b, 'Bob was here');
  await expect(messages(a, 'Bob was here')).toHaveCount(1);

  // Reading on one device clears the badge on the others.
  const b2 = await openAs(browser, baseURL!, bob, '/chats');
  await b.getByRole('link', { name: 'Chats', exact: true }).click();
  await expect(b).toHaveURL(/\/chats$/);
  await send(a, 'one more');
  await expect(row(b2, id).getByTestId('unread')).toHaveText(/^1\b/);
  await row(b, id).click();
  await expect(messages(b, 'one more')).toBeVisible();
  await expect(row(b2, id).getByTestId('unread')).toBeHidden();
});

test('markup in a message shows as text, and links are clickable', async ({ browser, baseURL }) => {
  const id = await group(alice, `Markup ${Date.now()}`, [bob]);
  const a = await openAs(browser, baseURL!, alice, `/chats/${id}`);
  const b = await openAs(browser, baseURL!, bob, `/chats/${id}`);

  const text = '<b>x</b> <img src=x onerror="window.pwned=1"> see https://example.org/page?q=1.';
  await send(a, text);
  const shown = messages(b, 'see https://example.org').getByTestId('message-text');
  await expect(shown).toContainText('<b>x</b> <img src=x onerror="window.pwned=1"> see');
  await expect(shown.locator('b, img')).toHaveCount(0);
  const link = shown.getByRole('link');
  await expect(link).toHaveText('https://example.org/page?q=1');
  await expect(link).toHaveAttribute('href', 'https://example.org/page?q=1');
  await expect(link).toHaveAttribute('target', '_blank');
  await expect(link).toHaveAttribute('rel', /noopener/);
  expect(await b.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
});

test('a browser that was offline gets what it missed, once', async ({ browser, baseURL }) => {
  const id = await group(alice, `Offline ${Date.now()}`, [bob]);
  const a = await openAs(browser, baseURL!, alice, `/chats/${id}`);
  const b = await openAs(browser, baseURL!, bob, `/chats/${id}`);
  await send(a, 'before the tunnel');
  await expect(messages(b, 'before the tunnel')).toHaveCount(1);

  await b.context().setOffline(true);
  await expect(b.getByTestId('connection')).toHaveAttribute('data-state', 'offline');
  await send(a, 'in the tunnel 1');
  await send(a, 'in the tunnel 2');
  await b.context().setOffline(false);

  await expect(b.getByTestId('connection')).toHaveAttribute('data-state', 'online');
  await expect(messages(b, 'in the tunnel 1')).toHaveCount(1);
  await expect(messages(b, 'in the tunnel 2')).toHaveCount(1);
  await expect(b.getByTestId('message')).toHaveCount(3);

  // Bob wrote while offline: shown as pending, sent once he is back.
  await b.context().setOffline(true);
  await expect(b.getByTestId('connection')).toHaveAttribute('data-state', 'offline');
  await b.getByTestId('composer').fill('written offline');
  await b.getByTestId('send').click();
  await expect(messages(b, 'written offline')).toHaveAttribute('data-pending', 'true');
  await b.context().setOffline(false);
  await expect(messages(b, 'written offline')).toHaveAttribute('data-seq', '4');
  await expect(messages(a, 'written offline')).toHaveCount(1);
  await expect(a.getByTestId('message')).toHaveCount(4);
});

test('the group panel: participants, inviting, leaving; invitations and the directory', async ({ browser, baseURL }) => {
  const name = `Invite-only ${Date.now()}`;
  const id = await group(alice, name, []);
  const a = await openAs(browser, baseURL!, alice, `/chats/${id}`);
  const b = await openAs(browser, baseURL!, bob, '/chats');

  await fromMenu(a, 'chat-menu', 'group-info');
  const panel = a.getByTestId('group-panel');
  await expect(panel.getByTestId('participant')).toHaveCount(1);
  await expect(panel.getByTestId('participant')).toContainText('Owner');
  await panel.getByTestId('invite-search').fill(bob.email);
  await panel.getByTestId('invite-search').press('Enter');
  await panel.getByTestId('search-result').getByTestId('invite-user').click();
  await expect(panel.getByTestId('form-notice')).toHaveText('Invitation sent.');

  await b.reload();
  const invitation = b.getByTestId('invitation-row').filter({ hasText: name });
  await invitation.getByTestId('join').click();
  await expect(b).toHaveURL(new RegExp(`/chats/${id}$`));
  // Alice sees Bob join, in the panel and in the chat.
  await expect(panel.getByTestId('participant')).toHaveCount(2);
  await expect(panel.getByTestId('participant').filter({ hasText: bob.nickname }).getByTestId('presence')).toHaveAttribute('data-presence', 'online');
  // The owner renames the group: the header and the list follow.
  const renamed = `${name} (renamed)`;
  await panel.getByTestId('group-name').fill(renamed);
  await panel.getByTestId('save-group').click();
  await expect(panel.getByTestId('form-notice').last()).toHaveText('Saved.');
  await a.keyboard.press('Escape');
  await expect(a.locator('#thread-title')).toHaveText(renamed);
  await expect(row(a, id)).toContainText(renamed);
  await expect(a.getByTestId('system-line')).toContainText(`${bob.nickname} joined the group`);

  await fromMenu(b, 'chat-menu', 'group-info');
  await b.getByTestId('group-panel').getByTestId('leave').click();
  await expect(b).toHaveURL(/\/chats$/);
  await expect(row(b, id)).toHaveCount(0);
  await expect(a.getByTestId('system-line').last()).toContainText(`${bob.nickname} left the group`);

  // An open, public group: found in the directory and joined from there.
  const open = `Open ${Date.now()}`;
  const openId = await group(alice, open, [], { visibility: 'public', join_policy: 'open' });
  await b.goto('/groups');
  const entry = b.getByTestId('directory-row').filter({ hasText: open });
  await entry.getByTestId('join').click();
  await expect(b).toHaveURL(new RegExp(`/chats/${openId}$`));
  await expect(row(b, openId)).toContainText(open);
});

test('older messages load when scrolled to the top, and the view stays put', async ({ browser, baseURL }) => {
  const id = await group(alice, `History ${Date.now()}`, [bob]);
  const a = await openAs(browser, baseURL!, alice, `/chats/${id}`);
  // 70 messages straight over a websocket of Alice's, paced under the send rate limit.
  await a.evaluate(async (conversation) => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    await new Promise((ready) => ws.addEventListener('open', ready));
    let acked = 0;
    ws.addEventListener('message', (e) => {
      if (JSON.parse(e.data).type === 'ack') acked++;
    });
    ws.send(JSON.stringify({ type: 'resume', positions: [] }));
    for (let i = 1; i <= 70; i++) {
      ws.send(JSON.stringify({ type: 'send', conversation_id: conversation, client_id: `h${i}`, kind: 'text', content: `history ${i}` }));
      if (i > 20) await new Promise((wait) => setTimeout(wait, 120));
    }
    while (acked < 70) await new Promise((wait) => setTimeout(wait, 50));
    ws.close();
  }, id);

  const b = await openAs(browser, baseURL!, bob, `/chats/${id}`);
  const seq = (n: number) => b.locator(`[data-testid="message"][data-seq="${n}"]`);
  await expect(b.getByTestId('message')).toHaveCount(50);
  await expect(seq(70)).toBeInViewport();
  await expect(seq(21)).not.toBeInViewport();
  await seq(21).scrollIntoViewIfNeeded();
  await expect(b.getByTestId('message')).toHaveCount(70);
  await expect(b.getByTestId('message').first()).toHaveAttribute('data-seq', '1');
  await expect(seq(21)).toBeInViewport();
  await expect(b.getByTestId('load-earlier')).toHaveCount(0);
});

test('the composer counts near the limit; a refused message says why and goes on a retry', async ({ browser, baseURL }) => {
  const id = await group(alice, `Refused ${Date.now()}`, []);
  // The first message sent is answered, as the server would when sending too fast, with an error.
  let refuse = true;
  const a = await openAs(browser, baseURL!, alice, `/chats/${id}`, {
    prepare: (page) =>
      page.routeWebSocket(/\/ws$/, (ws) => {
        const server = ws.connectToServer();
        ws.onMessage((message) => {
          const frame = JSON.parse(message as string);
          if (frame.type === 'send' && refuse) {
            refuse = false;
            ws.send(JSON.stringify({ type: 'error', code: 'rate_limited', message: 'slow down', client_id: frame.client_id }));
          } else {
            server.send(message);
          }
        });
      }),
  });

  const composer = a.getByTestId('composer');
  await composer.fill('x'.repeat(3000));
  await expect(a.getByTestId('composer-count')).toHaveCount(0);
  await composer.fill('x'.repeat(3600));
  await expect(a.getByTestId('composer-count')).toContainText('3600 / 4000');
  await composer.fill('x'.repeat(4001));
  await expect(a.getByTestId('send')).toBeDisabled();

  await composer.fill('not so fast');
  await composer.press('Enter');
  const refused = messages(a, 'not so fast');
  await expect(refused).toHaveAttribute('data-failed', 'true');
  await expect(refused).toContainText('Not sent: you are sending too fast.');
  await refused.getByTestId('retry').click();
  await expect(refused).toHaveAttribute('data-seq', '1');
  await expect(refused).not.toHaveAttribute('data-failed', 'true');
});

test('signing in again with this device elsewhere sends this window to sign in', async ({ browser, baseURL }) => {
  const carol = await register(baseURL!, 'Carol');
  const again = await playwrightRequest.newContext({ baseURL });
  try {
    const page = await openAs(browser, baseURL!, carol, '/chats');
    const res = await again.post('/api/auth/login', { data: { email: carol.email, password: PASSWORD, device_id: carol.deviceId } });
    expect(res.status()).toBe(200);
    // The server closes the websocket (4001); the page follows without a reload.
    await expect(page).toHaveURL(/\/signin\?next=\/chats&reason=revoked$/);
    await expect(page.getByTestId('signin-notice')).toContainText('You signed in again on this device');
  } finally {
    await again.dispose();
    await carol.api.dispose();
  }
});

test.describe('on a phone', () => {
  for (const lang of ['en', 'zh-CN']) {
    test(`the list and a chat each take the screen (${lang})`, async ({ browser, baseURL }) => {
      const id = await group(alice, `Phone ${Date.now()}`, [bob]);
      const a = await openAs(browser, baseURL!, alice, '/chats', {
        viewport: { width: 360, height: 740 },
        prepare: (page) => page.context().addCookies([{ name: 'natter_lang', value: lang, url: baseURL! }]),
      });
      const noSidewaysScroll = async () =>
        expect(await a.evaluate(() => document.scrollingElement!.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
      await expect(row(a, id)).toBeVisible();
      await noSidewaysScroll();
      await row(a, id).click();
      await expect(a.getByTestId('chat-row').first()).toBeHidden();
      await send(a, 'a long message from a small screen that has to wrap onto several lines https://example.org/a/rather/long/path/that/must/wrap/too');
      await expect(a.getByTestId('composer')).toBeInViewport();
      await expect(a.getByTestId('send')).toBeInViewport();
      await noSidewaysScroll();
      await fromMenu(a, 'chat-menu', 'group-info');
      await expect(a.getByTestId('leave')).toBeAttached();
      await noSidewaysScroll();
      await a.getByTestId('close-dialog').click();
      await a.locator('a.back').click();
      await expect(row(a, id)).toBeVisible();
    });
  }
});
