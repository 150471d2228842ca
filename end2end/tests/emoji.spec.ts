import { expect, type Browser, type Page } from '@playwright/test';

import { Contexts, group, register, test, type Account, type Options } from './support';

// Emoji and the sensitive-word filter in the browser: the picker inserts at
// the caret and remembers what was used, a typed :shortcode: arrives as its
// emoji, the emoji font is served, and a listed word (the server runs with
// end2end/fixtures/sensitive-words.txt) arrives masked.

let alice: Account;
let bob: Account;
let room: string;
const contexts = new Contexts();

test.beforeAll(async ({ baseURL }) => {
  alice = await register(baseURL!, 'Emo');
  bob = await register(baseURL!, 'Ji');
  room = await group(alice, `Emoji ${Date.now()}`, [bob]);
});

test.afterEach(async () => {
  await contexts.closeAll();
});

test.afterAll(async () => {
  await alice.api.dispose();
  await bob.api.dispose();
});

function openRoom(browser: Browser, baseURL: string, account: Account, options?: Options) {
  return contexts.open(browser, baseURL, account, `/chats/${room}`, options);
}

function message(page: Page, text: string) {
  return page.getByTestId('message-text').filter({ hasText: text });
}

test('the picker finds an emoji and inserts it at the caret; the other browser gets it', async ({ browser, baseURL }) => {
  const a = await openRoom(browser, baseURL!, alice);
  const b = await openRoom(browser, baseURL!, bob);
  const tag = Date.now().toString();
  const composer = a.getByTestId('composer');
  await composer.fill(`Hello world ${tag}`);
  await composer.evaluate((el: HTMLTextAreaElement) => el.setSelectionRange(5, 5));

  await a.getByTestId('emoji-button').click();
  const picker = a.getByTestId('emoji-picker');
  await expect(picker).toBeVisible();
  await expect(picker.getByTestId('emoji-search')).toBeFocused();
  await picker.getByTestId('emoji-search').fill('grinning');
  await expect(picker.getByTestId('emoji').first()).toHaveText('😀');
  await picker.getByTestId('emoji').first().click();
  await expect(composer).toHaveValue(`Hello😀 world ${tag}`);

  // From the keyboard: down into the results, Enter picks, at the new caret.
  await picker.getByTestId('emoji-search').fill(':tada:');
  await picker.getByTestId('emoji-search').press('ArrowDown');
  await a.keyboard.press('Enter');
  await expect(composer).toHaveValue(`Hello😀🎉 world ${tag}`);
  await a.keyboard.press('Escape');
  await expect(picker).toBeHidden();
  await expect(composer).toBeFocused();

  await a.getByTestId('send').click();
  await expect(message(b, `Hello😀🎉 world ${tag}`)).toHaveCount(1);

  // Recently used come first next time, and survive a reload.
  await a.reload();
  await a.locator('body[data-hydrated="true"]').waitFor();
  await a.getByTestId('emoji-button').click();
  await expect(a.getByTestId('emoji-picker').getByTestId('emoji').first()).toHaveText('🎉');
  await expect(a.getByTestId('emoji-picker').getByTestId('emoji').nth(1)).toHaveText('😀');
});

test('emoji use the served colour font', async ({ browser, baseURL }) => {
  const a = await openRoom(browser, baseURL!, alice);
  const font = await a.request.get('/fonts/twemoji.woff2');
  expect(font.status()).toBe(200);
  const family = await a.getByTestId('composer').evaluate((el) => getComputedStyle(el).fontFamily);
  expect(family).toMatch(/^"Natter Emoji"/);
  const loaded = await a.evaluate(async () => (await document.fonts.load('24px "Natter Emoji"', '😀')).length);
  expect(loaded).toBe(1);
});

test('a typed :shortcode: arrives as its emoji', async ({ browser, baseURL }) => {
  const a = await openRoom(browser, baseURL!, alice);
  const b = await openRoom(browser, baseURL!, bob);
  const tag = Date.now().toString();
  await a.getByTestId('composer').fill(`:tada: shipped ${tag} :not_a_code:`);
  await a.getByTestId('composer').press('Enter');
  await expect(message(b, `🎉 shipped ${tag} :not_a_code:`)).toHaveCount(1);
  await expect(message(a, `🎉 shipped ${tag} :not_a_code:`)).toHaveCount(1);
});

test('a listed word arrives masked', async ({ browser, baseURL }) => {
  const a = await openRoom(browser, baseURL!, alice);
  const b = await openRoom(browser, baseURL!, bob);
  const tag = Date.now().toString();
  await a.getByTestId('composer').fill(`what a Kerfuffle, 你这个坏蛋 ${tag}`);
  await a.getByTestId('composer').press('Enter');
  await expect(message(b, tag)).toHaveText(`what a *********, 你这个** ${tag}`);
  await expect(message(a, tag)).toHaveText(`what a *********, 你这个** ${tag}`);
});

test('the picker fits a 360 px screen', async ({ browser, baseURL }) => {
  const a = await openRoom(browser, baseURL!, alice, { viewport: { width: 360, height: 640 } });
  await a.getByTestId('emoji-button').click();
  const box = (await a.getByTestId('emoji-picker').boundingBox())!;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(360);
  expect(box.y).toBeGreaterThanOrEqual(0);
  // The grid keeps whole rows: the ninth emoji starts below the first.
  const first = (await a.getByTestId('emoji').nth(0).boundingBox())!;
  const ninth = (await a.getByTestId('emoji').nth(8).boundingBox())!;
  expect(ninth.y).toBeGreaterThanOrEqual(first.y + first.height - 1);
  expect(first.height).toBeGreaterThanOrEqual(32);
  await a.getByRole('tab', { name: 'Flags' }).click();
  await expect(a.getByTestId('emoji-picker').getByTestId('emoji').first()).toBeVisible();
  expect(await a.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
});

test('a message the server refuses for a word says why, in the reader\'s language, with no retry', async ({ browser, baseURL }) => {
  // This server masks; answer the send as a server with `--sensitive-policy refuse` would.
  const a = await openRoom(browser, baseURL!, alice, {
    locale: 'zh-CN',
    prepare: (page) =>
      page.routeWebSocket(/\/ws$/, (ws) => {
        const server = ws.connectToServer();
        ws.onMessage((message) => {
          const frame = JSON.parse(message as string);
          if (frame.type === 'send') {
            ws.send(JSON.stringify({ type: 'error', code: 'content_refused', message: 'refused', client_id: frame.client_id }));
          } else {
            server.send(message);
          }
        });
      }),
  });
  const tag = Date.now().toString();
  await a.getByTestId('composer').fill(`kerfuffle ${tag}`);
  await a.getByTestId('composer').press('Enter');
  const refused = a.getByTestId('message').filter({ hasText: tag });
  await expect(refused).toHaveAttribute('data-failed', 'true');
  await expect(refused.getByTestId('send-error')).toContainText('未发送：消息包含此处不允许的词语');
  await expect(refused.getByTestId('retry')).toHaveCount(0);
});
