import { expect, type Browser, type Page } from '@playwright/test';

import { Contexts, dispose, friends, group, messages, register, row, send, test, type Account, type Options } from './support';

// Everyday messaging in the browser: reply, edit, delete, react and pin, seen
// live by the other person; receipt ticks; @mentions with the picker and the
// list's badge; the "new messages" line and the jump to the first unread.
// In English on a wide screen and in Chinese at phone width.

let alice: Account;
let bob: Account;

test.beforeAll(async ({ baseURL }) => {
  [alice, bob] = await friends(baseURL!);
});

test.afterAll(() => dispose(alice, bob));

const contexts = new Contexts();
test.afterEach(() => contexts.closeAll());

const PHONE = { width: 390, height: 844 };
const LOOKS: { name: string; options: Options; deleted: RegExp; quoteGone: RegExp }[] = [
  { name: 'English, wide', options: {}, deleted: /Message deleted/, quoteGone: /original message was deleted/ },
  { name: 'Chinese, phone', options: { locale: 'zh-CN', viewport: PHONE }, deleted: /消息已删除/, quoteGone: /原消息已删除/ },
];

async function privateChat(from: Account, to: Account): Promise<string> {
  const res = await from.api.post('/api/conversations/private', { data: { user_id: to.id } });
  expect(res.ok(), await res.text()).toBeTruthy();
  return (await res.json()).conversation.id;
}

/** Sends through the HTTP API, waiting out the sender's budget when it runs dry. */
/** How far `account` has read `conversation`, as the server has it. */
async function readSeq(account: Account, conversation: string): Promise<number> {
  const res = await account.api.get('/api/conversations');
  expect(res.status()).toBe(200);
  const list: { conversation: { id: string }; read_seq: number }[] = await res.json();
  return list.find((s) => s.conversation.id === conversation)?.read_seq ?? 0;
}

async function post(account: Account, conversation: string, content: string, extra: object = {}): Promise<number> {
  for (;;) {
    const res = await account.api.post(`/api/conversations/${conversation}/messages`, {
      data: { client_id: `e2e-${Date.now()}-${Math.random()}`, content, ...extra },
    });
    if (res.status() === 429) {
      await new Promise((r) => setTimeout(r, 1000 * Number(res.headers()['retry-after'] ?? 1)));
      continue;
    }
    expect(res.status(), await res.text()).toBe(201);
    return (await res.json()).seq;
  }
}

/** The message whose own text (not a quote of it) holds `text`. */
function line(page: Page, text: string) {
  return page.getByTestId('message').filter({ has: page.getByTestId('message-text').filter({ hasText: text }) });
}

/** Opens a message's toolbar. */
async function actions(page: Page, text: string) {
  const message = line(page, text);
  await message.hover();
  await message.getByTestId('message-actions').click();
  return message.getByTestId('message-toolbar');
}

function openAs(browser: Browser, baseURL: string, account: Account, path: string, options?: Options) {
  return contexts.open(browser, baseURL, account, path, options);
}

for (const look of LOOKS) {
  test(`reply, edit, react, pin and delete, live on both sides (${look.name})`, async ({ browser, baseURL }) => {
    const id = await privateChat(alice, bob);
    const original = `Original ${Date.now()}`;
    const originalSeq = await post(alice, id, original);
    const a = await openAs(browser, baseURL!, alice, `/chats/${id}`, look.options);
    const b = await openAs(browser, baseURL!, bob, `/chats/${id}`, look.options);
    await expect(messages(b, original)).toHaveCount(1);

    // Bob replies: the reply quotes the original on both sides.
    await (await actions(b, original)).getByTestId('reply').click();
    await expect(b.getByTestId('reply-bar')).toContainText(original);
    const answer = `Answer ${Date.now()}`;
    await send(b, answer);
    await expect(b.getByTestId('reply-bar')).toHaveCount(0);
    for (const page of [a, b]) {
      await expect(messages(page, answer).getByTestId('reply-quote')).toContainText(original);
    }
    // Clicking the quote brings the original into view, highlighted.
    await messages(a, answer).getByTestId('reply-quote').click();
    await expect(line(a, original)).toHaveClass(/flash/);

    // Alice edits hers: both see the new text, marked edited, with its history.
    await (await actions(a, original)).getByTestId('edit').click();
    await expect(a.getByTestId('edit-bar')).toBeVisible();
    await expect(a.getByTestId('composer')).toHaveValue(original);
    const edited = `Edited ${Date.now()}`;
    await a.getByTestId('composer').fill(edited);
    await a.getByTestId('composer').press('Enter');
    for (const page of [a, b]) {
      await expect(line(page, edited).getByTestId('message-edited')).toBeVisible();
    }
    await line(b, edited).getByTestId('message-edited').click();
    await expect(line(b, edited).getByTestId('edit-history')).toContainText(original);

    // Bob reacts with the first quick reaction; Alice adds hers by the chip.
    await (await actions(b, edited)).getByTestId('quick-reaction').first().click();
    const chipOf = (page: Page) => line(page, edited).getByTestId('reaction');
    await expect(chipOf(b)).toHaveAttribute('aria-pressed', 'true');
    await expect(chipOf(a)).toHaveAttribute('aria-pressed', 'false');
    await expect(chipOf(a)).toContainText('1');
    await chipOf(a).click();
    await expect(chipOf(b)).toContainText('2');
    await expect(chipOf(b)).toHaveAttribute('title', new RegExp(alice.nickname));
    await chipOf(b).click();
    await expect(chipOf(a)).toContainText('1');
    await expect(chipOf(a)).toHaveAttribute('aria-pressed', 'true');

    // Either person of a private chat pins; the bar shows on both sides and jumps.
    await (await actions(a, edited)).getByTestId('pin').click();
    for (const page of [a, b]) {
      await expect(page.getByTestId('pinned-bar')).toContainText(edited);
    }
    await b.getByTestId('pinned-bar').click();
    await expect(line(b, edited)).toHaveClass(/flash/);

    // Alice deletes hers for everyone: gone on both sides, the reply says so.
    await (await actions(a, edited)).getByTestId('delete').click();
    await a.getByTestId('confirm-delete').click();
    for (const page of [a, b]) {
      await expect(page.locator(`[data-seq="${originalSeq}"]`).getByTestId('message-deleted')).toHaveText(look.deleted);
      await expect(line(page, edited)).toHaveCount(0);
      await expect(messages(page, answer).getByTestId('reply-quote')).toHaveText(look.quoteGone);
      await expect(page.getByTestId('pinned-bar').filter({ hasText: edited })).toHaveCount(0);
    }
    // The text is gone from the server too, not only hidden.
    const history = await (await bob.api.get(`/api/conversations/${id}/messages?limit=50`)).text();
    expect(history).not.toContain(edited);
    expect(history).not.toContain(original);
  });
}

test('receipt ticks: sent, delivered once the other device has it, read once read', async ({ browser, baseURL }) => {
  // Alice and Bob, with Bob's receipts switched back on at the end.
  const [carol, dave] = [alice, bob];
  try {
    const id = await privateChat(carol, dave);
    const c = await openAs(browser, baseURL!, carol, `/chats/${id}`);
    const first = `Ticks ${Date.now()}`;
    await send(c, first);
    const tick = messages(c, first).getByTestId('receipt');
    await expect(tick).toHaveAttribute('data-state', 'sent');

    // Dave's browser is open on the list: his device has the message, unread.
    const d = await openAs(browser, baseURL!, dave, '/chats');
    const second = `Delivered ${Date.now()}`;
    await send(c, second);
    await expect(row(d, id)).toContainText(second);
    await expect(messages(c, second).getByTestId('receipt')).toHaveAttribute('data-state', 'delivered');

    // He opens the chat: read, and the earlier one with it.
    await row(d, id).click();
    await expect(messages(d, second)).toHaveCount(1);
    await expect(messages(c, second).getByTestId('receipt')).toHaveAttribute('data-state', 'read');
    await expect(tick).toHaveAttribute('data-state', 'read');

    // With receipts off Dave sends none: Carol's ticks stop at what they were, and he sees none.
    const off = await dave.api.put('/api/me/privacy', { data: { contact: 'everyone', read_receipts: false } });
    expect(off.status(), await off.text()).toBe(200);
    await expect((await dave.api.get(`/api/conversations/${id}/receipts`)).status()).toBe(403);
    await d.reload();
    const third = `Private ${Date.now()}`;
    await send(d, third);
    await expect(messages(d, third)).toHaveCount(1);
    await expect(messages(d, third).getByTestId('receipt')).toHaveCount(0);
  } finally {
    await dave.api.put('/api/me/privacy', { data: { contact: 'everyone', findable_by_email: true, read_receipts: true } });
  }
});

test('@mentions in a group: the picker finds a Chinese name by pinyin; badge and filter (Chinese, phone)', async ({
  browser,
  baseURL,
}) => {
  const zhang = await register(baseURL!, '张三');
  try {
    expect((await zhang.api.post(`/api/friends/${alice.id}`)).status()).toBe(200);
    expect((await alice.api.post(`/api/friends/${zhang.id}`)).status()).toBe(200);
    const id = await group(alice, `提及 ${Date.now()}`, [zhang, bob]);
    const options = { locale: 'zh-CN', viewport: PHONE };
    const a = await openAs(browser, baseURL!, alice, `/chats/${id}`, options);
    const z = await openAs(browser, baseURL!, zhang, '/chats', options);

    // Alice types "@zs": the picker offers 张三; Enter takes it.
    await a.getByTestId('composer').pressSequentially('你好 @zs');
    await expect(a.getByTestId('mention-option')).toHaveCount(1);
    await expect(a.getByTestId('mention-option')).toContainText(zhang.nickname);
    await a.getByTestId('composer').press('Enter');
    await expect(a.getByTestId('composer')).toHaveValue(`你好 @${zhang.nickname} `);
    await a.getByTestId('composer').pressSequentially('看这里');
    await a.getByTestId('composer').press('Enter');
    const text = `你好 @${zhang.nickname} 看这里`;
    await expect(messages(a, text).getByTestId('mention')).toHaveText(`@${zhang.nickname}`);

    // 张三's list shows the "@" badge, and the mentions filter keeps just this chat.
    await expect(row(z, id).getByTestId('mention-badge')).toBeVisible();
    await z.getByTestId('filter-mentions').click();
    await expect(z.getByTestId('chat-row')).toHaveCount(1);
    await row(z, id).click();
    await expect(messages(z, text).getByTestId('mention')).toBeVisible();
    await expect(messages(z, text)).toHaveClass(/mentions-me/);
    // Read: the badge goes, and with the filter still on, the chat leaves the list.
    await z.goBack();
    await expect(z.getByTestId('chat-row')).toHaveCount(0);
  } finally {
    await dispose(zhang);
  }
});

test('opening a chat with many unread: the new-messages line and the jump to the first unread', async ({
  browser,
  baseURL,
}) => {
  // A pair of its own: the tab title counts every unread chat of the reader.
  const [alice, bob] = await friends(baseURL!);
  try {
    await manyUnread(browser, baseURL!, alice, bob);
  } finally {
    await dispose(alice, bob);
  }
});

async function manyUnread(browser: Browser, baseURL: string, alice: Account, bob: Account) {
  const id = await group(alice, `Unread ${Date.now()}`, [bob]);
  await post(alice, id, 'read before');
  const b = await openAs(browser, baseURL, bob, `/chats/${id}`);
  await expect(messages(b, 'read before')).toHaveCount(1);
  // Leaving the page at once could cancel the read mark on its way out.
  await expect.poll(async () => (await readSeq(bob, id)) >= 1).toBe(true);
  await b.goto('/chats');
  await b.locator('body[data-hydrated="true"]').waitFor();
  const first = `First unread ${Date.now()}`;
  await post(alice, id, first);
  for (let n = 0; n < 60; n++) await post(alice, id, `filler ${n}`);
  await expect(row(b, id).getByTestId('unread')).toContainText('61');
  // The tab's title counts them too, and stops once they are read.
  await expect(b).toHaveTitle(/^\(61\) Natter/);

  await row(b, id).click();
  await expect(messages(b, 'filler 59')).toHaveCount(1);
  await expect(b).toHaveTitle(/^Natter/);
  // The first unread is older than the page loaded: the button goes there.
  await b.getByTestId('jump-unread').click();
  await expect(messages(b, first)).toHaveClass(/flash/);
  await expect(messages(b, first)).toBeInViewport();
  const divider = b.getByTestId('unread-divider');
  await expect(divider).toHaveCount(1);
  // The line sits right above the first unread message.
  const above = await divider.evaluate((el) => el.nextElementSibling?.textContent ?? '');
  expect(above).toContain(first);
}
