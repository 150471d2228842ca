import { expect } from '@playwright/test';

import { Contexts, dispose, fromMenu, group, messages, register, test, type Account } from './support';

// Message search (issue 21): the box above the chat list finds a message by
// part of its Chinese text, shows it with what matched marked, and a click
// opens the chat at that message, which flashes; a chat's own search looks
// in it alone.
// In both languages, and at a phone's width. One account (sign-ups are
// limited per address) in groups of its own is all search needs.

let alice: Account;
let room: string;
let other: string;
/** A word no other message of any spec holds, so each search finds these alone. */
const tag = `q${Date.now().toString(36)}`;
const wanted = `我家在上海东边 ${tag}`;
let wantedSeq: number;

async function post(account: Account, conversation: string, content: string): Promise<number> {
  const res = await account.api.post(`/api/conversations/${conversation}/messages`, {
    data: { client_id: `s${Math.random().toString(36).slice(2)}`, content },
  });
  expect(res.status(), await res.text()).toBeLessThan(300);
  return (await res.json()).seq;
}

test.beforeAll(async ({ baseURL }) => {
  alice = await register(baseURL!, 'Seeker');
  room = await group(alice, `Search ${tag}`, []);
  other = await group(alice, `Elsewhere ${tag}`, []);
  for (let i = 0; i < 10; i++) {
    await post(alice, room, `filler ${i} 今天天气不错`);
  }
  wantedSeq = await post(alice, room, wanted);
  for (let i = 0; i < 10; i++) {
    await post(alice, room, `later ${i} 明天见`);
  }
  await post(alice, other, `上海的另一条 ${tag}`);
  // The index follows the store a moment later.
  await expect
    .poll(async () => (await (await alice.api.get(`/api/search?q=${encodeURIComponent(`上海东 ${tag}`)}`)).json()).hits?.length)
    .toBe(1);
});

test.afterAll(() => dispose(alice));

const contexts = new Contexts();
test.afterEach(() => contexts.closeAll());

const cases = [
  { lang: 'en', placeholder: 'Search messages', viewport: undefined },
  { lang: 'zh-CN', placeholder: '搜索消息', viewport: undefined },
  { lang: 'en', placeholder: 'Search messages', viewport: { width: 390, height: 844 } },
  { lang: 'zh-CN', placeholder: '搜索消息', viewport: { width: 390, height: 844 } },
];

for (const { lang, placeholder, viewport } of cases) {
  const size = viewport ? 'on a phone' : 'on a wide screen';
  test(`a search from the chat list opens the chat at the message (${lang}, ${size})`, async ({ browser, baseURL }) => {
    const page = await contexts.open(browser, baseURL!, alice, '/chats', { locale: lang, viewport });
    const box = page.getByTestId('search-input').first();
    await expect(box).toHaveAttribute('placeholder', placeholder);
    await box.fill(`海东 ${tag}`);
    const hits = page.getByTestId('search-result');
    await expect(hits).toHaveCount(1);
    await expect(hits.first()).toContainText(`Search ${tag}`);
    await expect(hits.first().locator('.search-hit-sender')).toHaveText(lang === 'en' ? 'You' : '我');
    await expect(hits.first().locator('mark')).toHaveText(['海东', tag]);

    // Two characters found in every conversation: both groups' messages.
    await box.fill(`上海 ${tag}`);
    await expect(hits).toHaveCount(2);
    await box.fill(`海东 ${tag}`);
    await expect(hits).toHaveCount(1);
    await hits.first().click();
    await expect(page).toHaveURL(new RegExp(`/chats/${room}\\?at=${wantedSeq}$`));
    // The chat scrolls to the message and flashes it.
    const line = page.locator(`li[data-testid="message"][data-seq="${wantedSeq}"]`);
    await expect(line).toContainText(wanted);
    await expect(line).toHaveClass(/flash/);
    await expect(messages(page, wanted)).toBeInViewport();
    await expect(page.getByTestId('search-result')).toHaveCount(0);
  });
}

test('a chat’s own search looks in that chat alone', async ({ browser, baseURL }) => {
  const page = await contexts.open(browser, baseURL!, alice, `/chats/${other}`);
  await fromMenu(page, 'chat-menu', 'chat-search');
  const box = page.locator('.chat-search').getByTestId('search-input');
  await expect(box).toHaveAttribute('placeholder', 'Search this chat');
  await box.fill(`上海 ${tag}`);
  const hits = page.locator('.chat-search').getByTestId('search-result');
  await expect(hits).toHaveCount(1);
  await expect(hits.first()).toContainText('上海的另一条');
  await box.fill('没有这样的消息');
  await expect(page.locator('.chat-search')).toContainText('No messages found.');
});

// The people and group directory search as messages are: a person by part of
// a Chinese nickname (typed in simplified, named in traditional), a group by
// traditional characters (named in simplified); results as one types, no
// Enter. At a phone's width in Chinese and wide in English.
test.describe('the directory', () => {
  let zhang: Account;

  test.beforeAll(async ({ baseURL }) => {
    zhang = await register(baseURL!, `張三豐${tag}`);
    await group(alice, `${tag} 台湾美食`, [], { visibility: 'public', description: '小吃' });
    await group(alice, `${tag} 台湾秘密`, [], { visibility: 'hidden' });
  });

  test.afterAll(() => dispose(zhang));

  const directoryCases = [
    { lang: 'zh-CN', viewport: { width: 390, height: 844 }, placeholder: '按名称或简介查找群组', none: '没有找到群组。' },
    { lang: 'en', viewport: undefined, placeholder: 'Find groups by name or description', none: 'No group found.' },
  ];

  for (const { lang, viewport, placeholder, none } of directoryCases) {
    const size = viewport ? 'on a phone' : 'on a wide screen';
    test(`a person by part of a Chinese nickname, a group by traditional characters (${lang}, ${size})`, async ({
      browser,
      baseURL,
    }) => {
      const people = await contexts.open(browser, baseURL!, alice, '/friends', { locale: lang, viewport });
      await people.getByTestId('friend-search').fill(`三丰${tag}`);
      const found = people.getByTestId('search-result');
      await expect(found).toHaveCount(1);
      await expect(found.first()).toContainText(zhang.nickname);

      const groups = await contexts.open(browser, baseURL!, alice, '/groups', { locale: lang, viewport });
      const box = groups.getByTestId('group-search');
      await expect(box).toHaveAttribute('placeholder', placeholder);
      await box.fill(`${tag} 臺灣`);
      const rows = groups.getByTestId('directory-row');
      await expect(rows).toHaveCount(1);
      await expect(rows.first()).toContainText(`${tag} 台湾美食`);
      await box.fill(`${tag} 秘密`);
      await expect(groups.getByText(none)).toBeVisible();
      await expect(rows).toHaveCount(0);
    });
  }
});
