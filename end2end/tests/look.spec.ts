import path from 'node:path';

import AxeBuilder from '@axe-core/playwright';
import { expect, request as playwrightRequest, type Browser, type Page } from '@playwright/test';

import { fromMenu, PASSWORD, send, test, type Account } from './support';

// The look of the app: no serious or critical accessibility fault (axe-core:
// contrast, names, roles) on any page, in both themes and both languages; and
// the main screens compared with reviewed screenshots, at a phone's size and
// a laptop's.

/** Someone with a fixed nickname (screenshots show it), made through the API. */
async function person(baseURL: string, nickname: string): Promise<Account> {
  const unique = `${Date.now()}${Math.random().toString(36).slice(2, 8)}`;
  const email = `look${unique}@example.org`;
  const deviceId = `look${unique}`;
  const api = await playwrightRequest.newContext({ baseURL });
  const res = await api.post('/api/auth/register', { data: { email, nickname, password: PASSWORD, device_id: deviceId } });
  expect(res.status(), await res.text()).toBe(201);
  const id = (await res.json()).user.id;
  return { id, email, nickname, deviceId, api };
}

interface World {
  ann: Account;
  bob: Account;
  cy: Account;
  groupId: string;
}

/** Ann's world: a friend (Bob) with a private chat, and a group of three with a short conversation. */
async function world(browser: Browser, baseURL: string): Promise<World> {
  const [ann, bob, cy] = [await person(baseURL, 'Ann Lee'), await person(baseURL, 'Bob Chen'), await person(baseURL, 'Cy Wu')];
  expect((await ann.api.post(`/api/friends/${bob.id}`)).status()).toBe(200);
  expect((await bob.api.post(`/api/friends/${ann.id}`)).status()).toBe(200);
  const made = await ann.api.post('/api/conversations', { data: { name: 'Book club', members: [bob.id, cy.id] } });
  expect(made.status(), await made.text()).toBe(201);
  const groupId = (await made.json()).conversation.id;
  for (const member of [bob, cy]) expect((await member.api.post(`/api/conversations/${groupId}/join`)).status()).toBe(200);
  const chat = await bob.api.post('/api/conversations/private', { data: { user_id: ann.id } });
  expect(chat.status(), await chat.text()).toBeLessThan(300);
  const privateId = (await chat.json()).conversation.id;
  const say = async (who: Account, conversation: string, texts: string[]) => {
    const context = await browser.newContext({ baseURL, storageState: await who.api.storageState() });
    const page = await context.newPage();
    await page.goto(`/chats/${conversation}`);
    await page.locator('body[data-hydrated="true"]').waitFor();
    for (const text of texts) await send(page, text);
    await context.close();
  };
  await say(bob, groupId, ['Has everyone finished the book?', 'No spoilers, please']);
  await say(ann, groupId, ['Two chapters to go', 'Friday at seven still works for me']);
  await say(cy, groupId, ['Same here. I will bring tea']);
  await say(bob, privateId, ['Can you send me the address?']);
  return { ann, bob, cy, groupId };
}

type Theme = 'light' | 'dark';

/** A browser context in `lang` and `theme`; `screenshots` lets Playwright
 *  inject the stylesheet that steadies them (the page's policy forbids it). */
async function openAs(
  browser: Browser,
  baseURL: string,
  who: Account | null,
  lang: string,
  theme: Theme,
  viewport = { width: 1280, height: 800 },
  screenshots = false,
) {
  const context = await browser.newContext({
    baseURL,
    colorScheme: theme,
    reducedMotion: 'reduce',
    viewport,
    bypassCSP: screenshots,
    storageState: who ? await who.api.storageState() : undefined,
  });
  await context.addCookies([{ name: 'natter_lang', value: lang, url: baseURL }]);
  return context;
}

async function load(page: Page, path: string) {
  await page.goto(path);
  await page.locator('body[data-hydrated="true"]').waitFor();
}

/** Fails on the serious and critical faults axe-core finds (WCAG 2.1 A and AA). */
async function accessible(page: Page, what: string) {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  // Soft: one run lists the faults of every page.
  expect.soft(bad, `accessibility faults on ${what}`).toEqual([]);
}

test.describe('accessibility', () => {
  test.describe.configure({ timeout: 240_000 });

  for (const theme of ['light', 'dark'] as const) {
    for (const lang of ['en', 'zh-CN']) {
      test(`every page, ${theme} theme, ${lang}`, async ({ browser, baseURL }) => {
        const visitor = await openAs(browser, baseURL!, null, lang, theme);
        const page = await visitor.newPage();
        for (const path of ['/', '/signin', '/signup', '/no-such-page']) {
          await load(page, path);
          await accessible(page, path);
        }
        await visitor.close();

        const { ann, groupId } = await world(browser, baseURL!);
        const context = await openAs(browser, baseURL!, ann, lang, theme);
        const signedIn = await context.newPage();
        for (const path of ['/', '/chats', `/chats/${groupId}`, '/profile', '/friends', '/groups', '/devices', '/settings/password']) {
          await load(signedIn, path);
          await accessible(signedIn, path);
        }
        await load(signedIn, `/chats/${groupId}`);
        await signedIn.getByTestId('chat-menu').click();
        await accessible(signedIn, 'the chat menu');
        await signedIn.keyboard.press('Escape');
        await signedIn.getByTestId('account-menu').click();
        await accessible(signedIn, 'the account menu');
        await signedIn.keyboard.press('Escape');
        await load(signedIn, '/chats');
        await signedIn.getByTestId('new-group').click();
        await expect(signedIn.getByTestId('new-group-dialog')).toBeVisible();
        await accessible(signedIn, 'the new-group dialog');
        await context.close();
      });
    }
  }
});

test('the theme switch overrides the system and is kept', async ({ browser, baseURL }) => {
  const ann = await person(baseURL!, 'Ann Lee');
  const context = await openAs(browser, baseURL!, ann, 'en', 'light');
  const page = await context.newPage();
  await load(page, '/profile');
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const light = await background();
  await fromMenu(page, 'account-menu', 'theme-dark');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  expect(await background()).not.toBe(light);
  await load(page, '/profile');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await fromMenu(page, 'account-menu', 'theme-system');
  await expect(page.locator('html')).not.toHaveAttribute('data-theme', /./);
  expect(await background()).toBe(light);
  await context.close();
});

test('keyboard: jump to a chat, move between chats, the list of shortcuts', async ({ browser, baseURL }) => {
  const { ann, groupId } = await world(browser, baseURL!);
  const context = await openAs(browser, baseURL!, ann, 'en', 'light');
  const page = await context.newPage();
  await load(page, '/chats');
  await expect(page.getByTestId('chat-row')).toHaveCount(2);
  await page.keyboard.press('Control+k');
  await page.getByTestId('jump-input').fill('book');
  await expect(page.getByTestId('jump-result')).toHaveText(['Book club']);
  await page.getByTestId('jump-input').press('Enter');
  await expect(page).toHaveURL(new RegExp(`/chats/${groupId}$`));
  await expect(page.getByTestId('jump-dialog')).toHaveCount(0);

  // The list has the private chat (newest) first, then the group.
  await page.keyboard.press('Alt+ArrowUp');
  await expect(page).not.toHaveURL(new RegExp(`/chats/${groupId}$`));
  await page.keyboard.press('Alt+ArrowDown');
  await expect(page).toHaveURL(new RegExp(`/chats/${groupId}$`));

  await page.locator('body').click({ position: { x: 5, y: 400 } });
  await page.keyboard.press('Shift+?');
  await expect(page.getByTestId('shortcuts-dialog')).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('shortcuts-dialog')).toHaveCount(0);
  await context.close();
});

test('a long press on a message opens its actions', async ({ browser, baseURL }) => {
  const { ann, groupId } = await world(browser, baseURL!);
  const context = await openAs(browser, baseURL!, ann, 'en', 'light', { width: 390, height: 844 });
  const page = await context.newPage();
  await load(page, `/chats/${groupId}`);
  const message = page.getByTestId('message').filter({ hasText: 'No spoilers' });
  await message.dispatchEvent('pointerdown', { pointerType: 'touch', isPrimary: true });
  await expect(message.getByTestId('message-toolbar')).toBeVisible();
  // A touch let go of at once is a tap: no actions.
  const other = page.getByTestId('message').filter({ hasText: 'Two chapters' });
  await other.dispatchEvent('pointerdown', { pointerType: 'touch', isPrimary: true });
  await other.dispatchEvent('pointerup', { pointerType: 'touch', isPrimary: true });
  await page.waitForTimeout(800);
  await expect(other.getByTestId('message-toolbar')).toHaveCount(0);
  await context.close();
});

test.describe('screenshots', () => {
  test.describe.configure({ timeout: 180_000 });

  const sizes = { phone: { width: 390, height: 844 }, wide: { width: 1280, height: 800 } };
  for (const [size, viewport] of Object.entries(sizes)) {
    test(`the main screens (${size})`, async ({ browser, baseURL }) => {
      const { ann, groupId } = await world(browser, baseURL!);
      const context = await openAs(browser, baseURL!, ann, 'en', 'light', viewport, true);
      const page = await context.newPage();
      // What changes from run to run: times, dates and the e-mail address
      // (masked); the avatars' colours and the receipts (look-screenshots.css).
      const options = {
        animations: 'disabled' as const,
        caret: 'hide' as const,
        maxDiffPixelRatio: 0.01,
        mask: [page.locator('time, .facts dd')],
        stylePath: path.join(__dirname, 'look-screenshots.css'),
      };
      await load(page, '/chats');
      await expect(page.getByTestId('chat-row')).toHaveCount(2);
      await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'online');
      await expect(page).toHaveScreenshot(`chat-list-${size}.png`, options);

      await page.getByTestId('new-group').click();
      await expect(page.getByTestId('new-group-dialog').getByTestId('member-pick')).toHaveCount(1);
      await expect(page).toHaveScreenshot(`dialog-${size}.png`, options);
      await page.keyboard.press('Escape');

      await load(page, `/chats/${groupId}`);
      await expect(page.getByTestId('message')).toHaveCount(5);
      await expect(page.getByTestId('thread-sub')).toHaveText('3 members');
      // A group's own messages show "seen by", never a private chat's ticks
      // (they did when the messages came before the chat's kind was known).
      await expect(page.getByTestId('receipt')).toHaveCount(0);
      await page.mouse.move(0, 0);
      await expect(page).toHaveScreenshot(`open-chat-${size}.png`, options);

      await load(page, '/profile');
      await expect(page.getByTestId('profile-nickname')).toHaveText('Ann Lee');
      await expect(page).toHaveScreenshot(`profile-${size}.png`, options);
      await context.close();

      const dark = await openAs(browser, baseURL!, ann, 'en', 'dark', viewport, true);
      const darkPage = await dark.newPage();
      await load(darkPage, `/chats/${groupId}`);
      await expect(darkPage.getByTestId('message')).toHaveCount(5);
      await darkPage.mouse.move(0, 0);
      await expect(darkPage).toHaveScreenshot(`open-chat-dark-${size}.png`, {
        ...options,
        mask: [darkPage.locator('time, .facts dd')],
      });
      await dark.close();
    });
  }
});
