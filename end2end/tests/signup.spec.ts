import { expect, request as playwrightRequest, type APIRequestContext, type Browser } from '@playwright/test';
import { open, PASSWORD, test, type Account } from './support';

// Sign-up modes in the browser, on two servers of their own that
// scripts/test.sh starts: one with `--signup invite` at NATTER_INVITE_URL,
// one with `--signup closed` at NATTER_CLOSED_URL. On each the first account
// may sign up, and administers it.

const ADMIN_EMAIL = 'e2e-admin@example.org';

/** The administrator's account, the server's first: signed up on the first run, signed in after. */
async function administrator(baseURL: string): Promise<Account> {
  const api = await playwrightRequest.newContext({ baseURL });
  const deviceId = `e2e-admin-${Date.now()}`;
  const user = { email: ADMIN_EMAIL, nickname: 'Admin', password: PASSWORD, device_id: deviceId };
  let res = await api.post('/api/auth/register', { data: user });
  if (res.status() !== 201) {
    res = await api.post('/api/auth/login', { data: { email: ADMIN_EMAIL, password: PASSWORD, device_id: deviceId } });
  }
  expect(res.ok(), await res.text()).toBe(true);
  const me = (await res.json()).user;
  expect(me.is_admin).toBe(true);
  return { id: me.id, email: ADMIN_EMAIL, nickname: me.nickname, deviceId, api };
}

function unique() {
  return `${Date.now()}${Math.random().toString(36).slice(2, 6)}`;
}

/** A fresh browser's sign-up page at `path`, hydrated, with the form filled in for a new user. */
async function signUpPage(browser: Browser, baseURL: string, path: string, fill = true) {
  const context = await browser.newContext({ baseURL, locale: 'en-US' });
  const page = await context.newPage();
  await page.goto(path);
  await page.locator('body[data-hydrated="true"]').waitFor();
  if (fill) {
    const name = unique();
    await page.getByTestId('email').fill(`s${name}@example.org`);
    await page.getByTestId('nickname').fill(`Stranger ${name.slice(-5)}`);
    await page.getByTestId('password').fill(PASSWORD);
  }
  return { context, page };
}

test('an administrator makes an invitation link, a stranger signs up through it, then it is used up', async ({
  browser,
}) => {
  const inviteURL = process.env.NATTER_INVITE_URL;
  test.skip(!inviteURL, 'scripts/test.sh starts the invite-only server');
  const admin = await administrator(inviteURL!);
  const { context, page } = await open(browser, inviteURL!, admin, '/profile');
  await page.getByTestId('admin-link').click();
  await expect(page).toHaveURL(/\/admin$/);
  await page.getByTestId('invite-create').click();
  const link = await page.getByTestId('invite-link').inputValue();
  expect(link).toMatch(/^http:\/\/[^/]+\/signup\?invite=[\w-]{43}$/);
  await expect(page.getByTestId('invite-row').first()).toContainText('1/1');

  // Without the link: no form, and why.
  const uninvited = await signUpPage(browser, inviteURL!, '/signup', false);
  await expect(uninvited.page.getByTestId('signup-refusal')).toContainText('by invitation only');
  await expect(uninvited.page.getByTestId('email')).toHaveCount(0);
  await uninvited.context.close();

  const invited = await signUpPage(browser, inviteURL!, link);
  await invited.page.getByTestId('submit').click();
  await expect(invited.page).toHaveURL(/\/profile$/);
  await expect(invited.page.getByTestId('profile-nickname')).toContainText('Stranger');
  await expect(invited.page.getByTestId('admin-link')).toHaveCount(0);
  await invited.context.close();

  // Used up: the next one who has it is told, and no account is made.
  const late = await signUpPage(browser, inviteURL!, link);
  await late.page.getByTestId('submit').click();
  await expect(late.page.getByTestId('form-error')).toContainText('not valid');
  await expect(late.page).toHaveURL(/\/signup/);
  await late.context.close();

  await page.reload();
  await expect(page.getByTestId('invite-row').first()).toContainText('0/1');
  const before = await page.getByTestId('invite-row').count();
  await page.getByTestId('invite-revoke').first().click();
  await expect(page.getByTestId('invite-row')).toHaveCount(before - 1);
  await context.close();
  await admin.api.dispose();
});

test('a closed server says so on its sign-up page and refuses a sign-up', async ({ browser }) => {
  const closedURL = process.env.NATTER_CLOSED_URL;
  test.skip(!closedURL, 'scripts/test.sh starts the closed server');
  const api: APIRequestContext = await playwrightRequest.newContext({ baseURL: closedURL });
  const first = { email: `first${unique()}@example.org`, nickname: 'First', password: PASSWORD, device_id: 'd1' };
  // The first account may always sign up: on a fresh server this is it.
  const bootstrap = await api.post('/api/auth/register', { data: first });
  expect([201, 403]).toContain(bootstrap.status());

  const { context, page } = await signUpPage(browser, closedURL!, '/signup', false);
  await expect(page.getByTestId('signup-refusal')).toContainText('Sign-ups are closed');
  await expect(page.getByTestId('email')).toHaveCount(0);
  const later = { ...first, email: `later${unique()}@example.org` };
  const refused = await api.post('/api/auth/register', { data: later });
  expect(refused.status()).toBe(403);
  expect((await refused.json()).code).toBe('signup_closed');
  await context.close();
  await api.dispose();
});
