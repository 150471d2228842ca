import {
  expect,
  request as playwrightRequest,
  test as base,
  type APIRequestContext,
  type Browser,
  type BrowserContext,
  type Page,
} from '@playwright/test';

// What the chat specs share: accounts made through the API (sign-up is rate
// limited per IP, so specs register a few users once), signed-in browser
// pages, groups, sending and finding messages.

/** Every spec's `test`: a test fails when a page it opened, in any browser
 *  context, broke the Content-Security-Policy (a script, style, picture or
 *  connection the policy blocked). A test that means to break it reads and
 *  empties `cspViolations`. */
export const test = base.extend<{ cspViolations: string[] }>({
  cspViolations: [
    async ({ browser, context }, use) => {
      const violations: string[] = [];
      const watch = async (watched: BrowserContext) => {
        await watched.addInitScript(() =>
          document.addEventListener('securitypolicyviolation', (e) =>
            console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline code'}`),
          ),
        );
        watched.on('console', (m) => {
          if (m.text().startsWith('CSP violation')) violations.push(`${m.location().url}: ${m.text()}`);
        });
      };
      await watch(context);
      const newContext = browser.newContext;
      browser.newContext = async (options) => {
        const made = await newContext.call(browser, options);
        await watch(made);
        return made;
      };
      try {
        await use(violations);
      } finally {
        browser.newContext = newContext;
      }
      expect(violations, 'Content-Security-Policy violations').toEqual([]);
    },
    { auto: true },
  ],
});

export const PASSWORD = 'correct horse battery';

export interface Account {
  id: string;
  email: string;
  nickname: string;
  /** The device the account's cookie belongs to. */
  deviceId: string;
  api: APIRequestContext;
}

let serial = 0;
export async function register(baseURL: string, tag: string): Promise<Account> {
  const unique = `${Date.now()}${serial++}${Math.random().toString(36).slice(2, 6)}`;
  const user = { email: `c${unique}@example.org`, nickname: `${tag} ${unique.slice(-5)}`, password: PASSWORD };
  const deviceId = `e2e${unique}`;
  const api = await playwrightRequest.newContext({ baseURL });
  const res = await api.post('/api/auth/register', { data: { ...user, device_id: deviceId } });
  expect(res.status(), await res.text()).toBe(201);
  const id = (await res.json()).user.id;
  // The specs find each other by e-mail address, which each must allow.
  const privacy = await api.put('/api/me/privacy', { data: { contact: 'everyone', findable_by_email: true } });
  expect(privacy.status(), await privacy.text()).toBe(200);
  return { id, email: user.email, nickname: user.nickname, deviceId, api };
}

/** Alice and Bob, registered and made friends: the pair most chat specs start from. */
export async function friends(baseURL: string): Promise<[Account, Account]> {
  const alice = await register(baseURL, 'Alice');
  const bob = await register(baseURL, 'Bob');
  expect((await alice.api.post(`/api/friends/${bob.id}`)).status()).toBe(200);
  expect((await bob.api.post(`/api/friends/${alice.id}`)).status()).toBe(200);
  return [alice, bob];
}

export async function dispose(...accounts: Account[]) {
  await Promise.all(accounts.map((a) => a.api.dispose()));
}

export interface Options {
  viewport?: { width: number; height: number };
  /** The browser's language; English unless given. */
  locale?: string;
  /** Runs before the page loads: to route its websocket, say. */
  prepare?: (page: Page) => Promise<void>;
}

/** A signed-in browser page of `account`, at `path`, hydrated and connected. */
export async function open(browser: Browser, baseURL: string, account: Account, path: string, options: Options = {}) {
  const { viewport, prepare, locale = 'en-US' } = options;
  const context = await browser.newContext({ baseURL, locale, viewport, storageState: await account.api.storageState() });
  const page = await context.newPage();
  await prepare?.(page);
  await page.goto(path);
  await page.locator('body[data-hydrated="true"]').waitFor();
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'online');
  return { context, page };
}

/** A group of `owner` with `members`, made through the API; each member
 *  accepts the invitation a stranger gets (friends are in already). */
export async function group(owner: Account, name: string, members: Account[], extra: object = {}): Promise<string> {
  const res = await owner.api.post('/api/conversations', { data: { name, members: members.map((m) => m.id), ...extra } });
  expect(res.status(), await res.text()).toBe(201);
  const id = (await res.json()).conversation.id;
  for (const member of members) {
    const joined = await member.api.post(`/api/conversations/${id}/join`);
    expect(joined.status(), await joined.text()).toBe(200);
  }
  return id;
}

export async function send(page: Page, text: string) {
  await page.getByTestId('composer').fill(text);
  await page.getByTestId('composer').press('Enter');
  // Acknowledged: stored under a sequence number, no longer pending.
  await expect(messages(page, text).and(page.locator('[data-seq]:not([data-pending])'))).toHaveCount(1);
}

/** Opens the menu `menu` (the chat's `chat-menu`, the composer's
 *  `attach-menu`, the account menu) and clicks `item` in it. */
export async function fromMenu(page: Page, menu: 'chat-menu' | 'attach-menu' | 'account-menu', item: string) {
  await page.getByTestId(menu).click();
  await page.getByTestId(item).click();
}

/** Sets the user's own status from the account menu, and closes the menu. */
export async function setStatus(page: Page, status: string) {
  await fromMenu(page, 'account-menu', `status-${status}`);
  await page.keyboard.press('Escape');
}

export function messages(page: Page, text: string) {
  return page.getByTestId('message').filter({ hasText: text });
}

export function row(page: Page, conversationId: string) {
  return page.locator(`[data-testid="chat-row"][data-conversation-id="${conversationId}"]`);
}

/** Keeps the browser contexts a test opens, to close them after it. */
export class Contexts {
  private opened: BrowserContext[] = [];

  async open(browser: Browser, baseURL: string, account: Account, path: string, options?: Options) {
    const opened = await open(browser, baseURL, account, path, options);
    this.opened.push(opened.context);
    return opened.page;
  }

  async closeAll() {
    await Promise.all(this.opened.splice(0).map((c) => c.close()));
  }
}
