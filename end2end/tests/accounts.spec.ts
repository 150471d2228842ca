import {
  expect,
  request as playwrightRequest,
  type APIRequestContext,
  type Browser,
  type Page,
} from '@playwright/test';
import { fromMenu, test } from './support';

// Accounts in the browser: sign-up, sign-in and out, the profile with its
// avatar, devices, friends. Every test makes its own users, with e-mail
// addresses unique to the run, so the tests run in any order on one server.

const PASSWORD = 'correct horse battery';

/** A 2×2 PNG, small enough to inline and valid enough for the server to decode. */
const PNG_2X2 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAYAAABytg0kAAAAFElEQVR4nGPQz4/7/2GLxn8GGAMAUL4JjXeA5KYAAAAASUVORK5CYII=',
  'base64',
);

interface User {
  email: string;
  nickname: string;
  password: string;
}

let serial = 0;
/** A user nobody has registered yet. */
function newUser(tag: string): User {
  const unique = `${Date.now()}${serial++}${Math.random().toString(36).slice(2, 6)}`;
  return { email: `u${unique}@example.org`, nickname: `${tag} ${unique.slice(-6)}`, password: PASSWORD };
}

/** Waits until the wasm app has hydrated the server-rendered page. */
async function hydrated(page: Page) {
  await page.locator('body[data-hydrated="true"]').waitFor();
}

async function signUp(page: Page, user: User) {
  await page.goto('/signup');
  await hydrated(page);
  await page.getByTestId('email').fill(user.email);
  await page.getByTestId('nickname').fill(user.nickname);
  await page.getByTestId('password').fill(user.password);
  await page.getByTestId('submit').click();
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByTestId('profile-nickname')).toHaveText(user.nickname);
}

/** Fills in the sign-in form of the current page and sends it. */
async function submitSignIn(page: Page, email: string, password: string) {
  await hydrated(page);
  await page.getByTestId('email').fill(email);
  await page.getByTestId('password').fill(password);
  await page.getByTestId('submit').click();
}

/** Registers through the API; `api` keeps the session cookie for later calls. */
async function registerViaApi(api: APIRequestContext, user: User): Promise<string> {
  const res = await api.post('/api/auth/register', {
    data: { ...user, device_id: `api${Date.now()}${serial++}` },
  });
  expect(res.status(), await res.text()).toBe(201);
  return (await res.json()).user.id;
}

/** A browser context of its own, with this browser's device id fixed in advance. */
async function contextWithDevice(browser: Browser, baseURL: string, deviceId: string) {
  const context = await browser.newContext({ baseURL, locale: 'en-US' });
  await context.addInitScript((id) => window.localStorage.setItem('natter_device_id', id), deviceId);
  return context;
}

test('signs up, out and in again', async ({ page }) => {
  const user = newUser('Ada');
  await signUp(page, user);
  await expect(page.getByTestId('user-menu')).toContainText(user.nickname);
  await expect(page.getByTestId('profile-email')).toHaveText(user.email);

  await fromMenu(page, 'account-menu', 'signout');
  await expect(page).toHaveURL(/\/signin$/);
  await submitSignIn(page, user.email, user.password);
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByTestId('profile-nickname')).toHaveText(user.nickname);
  await expect(page.getByTestId('profile-login-count')).toHaveText('2');
});

test('a wrong password shows an error and stays on the page', async ({ page, request }) => {
  const user = newUser('Bo');
  await registerViaApi(request, user);
  await page.goto('/signin');
  await submitSignIn(page, user.email, 'not the password');
  await expect(page.getByTestId('form-error')).toHaveText('Wrong e-mail address or password.');
  await expect(page).toHaveURL(/\/signin$/);
  await expect(page.getByTestId('submit')).toBeEnabled();
});

test('sign-up checks its fields before sending anything', async ({ page }) => {
  let sent = 0;
  page.on('request', (req) => {
    if (req.url().includes('/api/auth/register')) sent++;
  });
  await page.goto('/signup');
  await hydrated(page);
  await page.getByTestId('email').fill('not-an-address');
  await page.getByTestId('password').fill('short');
  await page.getByTestId('submit').click();

  await expect(page.getByTestId('error-email')).toHaveText('Enter a valid e-mail address.');
  await expect(page.getByTestId('error-nickname')).toHaveText('Enter a nickname of 1 to 64 characters.');
  await expect(page.getByTestId('error-password')).toHaveText('Use 8 to 1024 characters.');
  await expect(page.getByTestId('email')).toHaveAttribute('aria-invalid', 'true');
  await expect(page).toHaveURL(/\/signup$/);
  expect(sent).toBe(0);

  // Editing a field clears its error.
  await page.getByTestId('email').fill('ada@example.org');
  await expect(page.getByTestId('error-email')).toHaveCount(0);
  await expect(page.getByTestId('error-password')).toBeVisible();
});

test('signing up with a taken e-mail shows the error beside it', async ({ page, request }) => {
  const user = newUser('Cy');
  await registerViaApi(request, user);
  await page.goto('/signup');
  await hydrated(page);
  await page.getByTestId('email').fill(user.email);
  await page.getByTestId('nickname').fill('Someone else');
  await page.getByTestId('password').fill(PASSWORD);
  await page.getByTestId('submit').click();
  await expect(page.getByTestId('error-email')).toHaveText('An account with this e-mail address exists already.');
  await expect(page).toHaveURL(/\/signup$/);
});

test('edits the nickname and gender', async ({ page }) => {
  const user = newUser('Di');
  await signUp(page, user);
  await page.getByTestId('nickname').fill('   ');
  await page.getByTestId('submit').click();
  await expect(page.getByTestId('error-nickname')).toBeVisible();

  await page.getByTestId('nickname').fill('Dee');
  await page.getByTestId('gender').selectOption({ label: 'Female' });
  await page.getByTestId('submit').click();
  await expect(page.getByTestId('form-notice')).toHaveText('Saved.');
  await expect(page.getByTestId('profile-nickname')).toHaveText('Dee');
  await expect(page.getByTestId('user-menu')).toContainText('Dee');

  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('profile-nickname')).toHaveText('Dee');
  await expect(page.getByTestId('gender')).toHaveValue('2');
});

test('uploads an avatar with a preview and a progress bar', async ({ page }) => {
  await signUp(page, newUser('Eve'));
  await expect(page.getByTestId('avatar-image')).toHaveCount(0);

  // Hold the upload until the preview has been seen.
  let release!: () => void;
  const previewSeen = new Promise<void>((resolve) => (release = resolve));
  await page.route('**/api/me/avatar', async (route) => {
    await previewSeen;
    await route.continue();
  });

  await page.getByTestId('avatar-input').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: PNG_2X2 });
  await expect(page.getByTestId('avatar-preview')).toHaveAttribute('src', /^blob:/);
  await expect(page.getByTestId('avatar-progress')).toBeVisible();
  release();

  await expect(page.getByTestId('avatar-image')).toHaveAttribute('src', /^\/avatars\//);
  await expect(page.getByTestId('avatar-preview')).toHaveCount(0);
  await expect(page.getByTestId('avatar-progress')).toHaveAttribute('value', '100');
  const loaded = await page
    .getByTestId('avatar-image')
    .evaluate((img: HTMLImageElement) => img.decode().then(() => img.naturalWidth));
  expect(loaded).toBeGreaterThan(0);
  // The header shows the new picture too.
  await expect(page.getByTestId('user-menu').locator('img')).toHaveAttribute('src', /^\/avatars\//);
});

test('a file that is not an image is refused', async ({ page }) => {
  await signUp(page, newUser('Fay'));
  await page
    .getByTestId('avatar-input')
    .setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not a picture at all') });
  await expect(page.getByTestId('error-avatar')).toContainText('not a picture Natter can read');
  await expect(page.getByTestId('avatar-progress')).toHaveCount(0);
});

test('signing in again on the same device signs the first window out', async ({ browser, baseURL }) => {
  const deviceId = `shared${Date.now()}`;
  const first = await contextWithDevice(browser, baseURL!, deviceId);
  const second = await contextWithDevice(browser, baseURL!, deviceId);
  try {
    const user = newUser('Gil');
    const pageA = await first.newPage();
    await signUp(pageA, user);

    const pageB = await second.newPage();
    await pageB.goto('/signin');
    await submitSignIn(pageB, user.email, user.password);
    await expect(pageB).toHaveURL(/\/profile$/);

    await pageA.goto('/profile');
    await expect(pageA).toHaveURL(/\/signin\?next=\/profile&reason=revoked$/);
    await expect(pageA.getByTestId('signin-notice')).toContainText('You signed in again on this device');
    await expect(pageB.getByTestId('profile-nickname')).toHaveText(user.nickname);
  } finally {
    await first.close();
    await second.close();
  }
});

test('a signed-out visitor signs in and comes back', async ({ page, request }) => {
  const user = newUser('Hal');
  await registerViaApi(request, user);
  await page.goto('/profile');
  await expect(page).toHaveURL(/\/signin\?next=\/profile$/);
  await expect(page.getByTestId('signin-notice')).toHaveCount(0);
  await submitSignIn(page, user.email, user.password);
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByTestId('profile-nickname')).toHaveText(user.nickname);

  // Pages outside this site are not a place to go after signing in.
  await fromMenu(page, 'account-menu', 'signout');
  await expect(page).toHaveURL(/\/signin$/);
  await page.goto('/signin?next=//example.org/');
  await submitSignIn(page, user.email, user.password);
  await expect(page).toHaveURL(/\/profile$/);
});

test('changes the password', async ({ page }) => {
  const user = newUser('Ivy');
  await signUp(page, user);
  await page.goto('/settings/password');
  await hydrated(page);
  await page.getByTestId('current-password').fill('wrong password');
  await page.getByTestId('new-password').fill('a brand new password');
  await page.getByTestId('submit').click();
  await expect(page.getByTestId('error-current_password')).toHaveText('The current password is wrong.');

  await page.getByTestId('current-password').fill(user.password);
  await page.getByTestId('new-password').fill('short');
  await page.getByTestId('submit').click();
  await expect(page.getByTestId('error-new_password')).toHaveText('Use 8 to 1024 characters.');

  await page.getByTestId('new-password').fill('a brand new password');
  await page.getByTestId('submit').click();
  await expect(page.getByTestId('form-notice')).toContainText('Password changed');
  await expect(page.getByTestId('current-password')).toHaveValue('');

  await fromMenu(page, 'account-menu', 'signout');
  await expect(page).toHaveURL(/\/signin$/);
  await submitSignIn(page, user.email, 'a brand new password');
  await expect(page).toHaveURL(/\/profile$/);
});

test('lists the devices and signs one out', async ({ page, baseURL }) => {
  const user = newUser('Jo');
  await signUp(page, user);
  const phone = await playwrightRequest.newContext({ baseURL, userAgent: 'Mozilla/5.0 (Linux; Android 14) Firefox/128.0' });
  try {
    const res = await phone.post('/api/auth/login', {
      data: { email: user.email, password: user.password, device_id: `phone${Date.now()}` },
    });
    expect(res.status()).toBe(200);

    await page.goto('/devices');
    await hydrated(page);
    const rows = page.getByTestId('device-row');
    await expect(rows).toHaveCount(2);
    await expect(page.locator('[data-testid="device-row"][data-current="true"]')).toHaveCount(1);
    const other = page.locator('[data-testid="device-row"][data-current="false"]');
    await expect(other).toContainText('Firefox · Android');

    await other.getByTestId('device-signout').click();
    await expect(rows).toHaveCount(1);
    expect((await phone.get('/api/me')).status()).toBe(401);
  } finally {
    await phone.dispose();
  }
});

test('finds a user, sends a friend request, and sees it accepted', async ({ page, baseURL }) => {
  const me = newUser('Kim');
  await signUp(page, me);
  const myId = await page.evaluate(async () => (await (await fetch('/api/me')).json()).id);

  const other = newUser('Lee');
  const otherApi = await playwrightRequest.newContext({ baseURL });
  try {
    await registerViaApi(otherApi, other);

    await page.goto('/friends');
    await hydrated(page);
    await page.getByTestId('friend-search').fill(other.nickname);
    await page.getByTestId('submit').click();
    const result = page.getByTestId('search-result');
    await expect(result).toHaveCount(1);
    await expect(result).toContainText(other.nickname);
    await result.getByTestId('add-friend').click();
    await expect(page.getByTestId('outgoing-request')).toContainText(other.nickname);
    await expect(result).toContainText('Request sent');

    expect((await otherApi.post(`/api/friends/${myId}`)).status()).toBe(200);
    await page.reload();
    await hydrated(page);
    const friend = page.getByTestId('friend-row');
    await expect(friend).toContainText(other.nickname);
    await friend.getByTestId('remove-friend').click();
    await expect(page.getByTestId('friend-row')).toHaveCount(0);
  } finally {
    await otherApi.dispose();
  }
});

test('answers a friend request', async ({ page, baseURL }) => {
  const me = newUser('Max');
  await signUp(page, me);
  const myId = await page.evaluate(async () => (await (await fetch('/api/me')).json()).id);
  const asker = newUser('Ned');
  const askerApi = await playwrightRequest.newContext({ baseURL });
  try {
    await registerViaApi(askerApi, asker);
    expect((await askerApi.post(`/api/friends/${myId}`)).status()).toBe(200);

    await page.goto('/friends');
    await hydrated(page);
    const request = page.getByTestId('incoming-request');
    await expect(request).toContainText(asker.nickname);
    await request.getByTestId('accept').click();
    await expect(page.getByTestId('friend-row')).toContainText(asker.nickname);
    await expect(page.getByTestId('incoming-request')).toHaveCount(0);
  } finally {
    await askerApi.dispose();
  }
});

test.describe('on a phone', () => {
  test.use({ viewport: { width: 360, height: 740 } });

  async function noSidewaysScroll(page: Page) {
    const overflow = await page.evaluate(() => document.scrollingElement!.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  }

  for (const lang of ['en', 'zh-CN']) {
    test(`the account pages fit the screen (${lang})`, async ({ page, context, baseURL }) => {
      await context.addCookies([{ name: 'natter_lang', value: lang, url: baseURL! }]);
      await page.goto('/signup');
      await hydrated(page);
      const email = await page.getByTestId('email').boundingBox();
      const main = await page.locator('main').boundingBox();
      // The inputs take the width of the page, less its padding.
      expect(email!.width).toBeGreaterThan(main!.width - 48);
      await noSidewaysScroll(page);

      await signUp(page, { ...newUser('Ola'), nickname: 'A rather long nickname for a phone' });
      await page.getByTestId('account-menu').click();
      await expect(page.getByTestId('signout')).toBeInViewport();
      await expect(page.getByTestId('language')).toBeInViewport();
      await noSidewaysScroll(page);
      for (const path of ['/devices', '/friends', '/settings/password']) {
        await page.goto(path);
        await hydrated(page);
        await expect(page.locator('main h1')).toBeVisible();
        await noSidewaysScroll(page);
      }
    });
  }
});
