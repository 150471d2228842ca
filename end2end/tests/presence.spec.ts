import { expect, type Browser, type Page } from '@playwright/test';

import { Contexts, dispose, friends, fromMenu, group, row, setStatus, test, type Account } from './support';

// Presence in the browser: the status picker, status dots that follow it
// live, invisible users left out of the online count, a status for one
// conversation, away after inactivity, and who is typing.

let alice: Account;
let bob: Account;

test.beforeAll(async ({ baseURL }) => {
  [alice, bob] = await friends(baseURL!);
});

test.afterAll(() => dispose(alice, bob));

const contexts = new Contexts();
test.afterEach(async () => {
  // Statuses are kept: leave both online for the next test.
  for (const account of [alice, bob]) {
    expect((await account.api.put('/api/me/status', { data: { status: 'online' } })).status()).toBe(200);
  }
  await contexts.closeAll();
});

function bobsDot(panel: ReturnType<Page['getByTestId']>) {
  return panel.getByTestId('participant').filter({ hasText: bob.nickname }).getByTestId('presence');
}

async function openPanel(page: Page) {
  await fromMenu(page, 'chat-menu', 'group-info');
  return page.getByTestId('group-panel');
}

test('a chosen status shows on the others\' screens at once; invisible counts as offline', async ({ browser, baseURL }) => {
  const id = await group(alice, `Status ${Date.now()}`, [bob]);
  const a = await contexts.open(browser, baseURL!, alice, `/chats/${id}`);
  const b = await contexts.open(browser, baseURL!, bob, `/chats/${id}`);
  const panel = await openPanel(a);
  await expect(bobsDot(panel)).toHaveAttribute('data-presence', 'online');
  await expect(panel.getByTestId('online-count')).toContainText('2');

  for (const [status, shown] of [['busy', 'busy'], ['away', 'away'], ['invisible', 'offline'], ['online', 'online']]) {
    await setStatus(b, status);
    await expect(bobsDot(panel)).toHaveAttribute('data-presence', shown);
  }
  await setStatus(b, 'invisible');
  await expect(panel.getByTestId('online-count')).toContainText('1');
  // Kept across page loads.
  await b.reload();
  await expect(b.getByTestId('my-status')).toHaveAttribute('data-status', 'invisible');
});

test('a status for one conversation only', async ({ browser, baseURL }) => {
  const work = await group(alice, `Work ${Date.now()}`, [bob]);
  const fun = await group(alice, `Fun ${Date.now()}`, [bob]);
  const a = await contexts.open(browser, baseURL!, alice, `/chats/${work}`);
  const b = await contexts.open(browser, baseURL!, bob, `/chats/${work}`);
  const bPanel = await openPanel(b);
  await bPanel.getByTestId('status-here').selectOption('busy');
  const panel = await openPanel(a);
  await expect(bobsDot(panel)).toHaveAttribute('data-presence', 'busy');
  await a.keyboard.press('Escape');
  await row(a, fun).click();
  const funPanel = await openPanel(a);
  await expect(bobsDot(funPanel)).toHaveAttribute('data-presence', 'online');
});

test('away after a while without input, online again on return', async ({ browser, baseURL }) => {
  const id = await group(alice, `Idle ${Date.now()}`, [bob]);
  const a = await contexts.open(browser, baseURL!, alice, `/chats/${id}`);
  const b = await contexts.open(browser, baseURL!, bob, `/chats/${id}`, {
    // Idle after 1.5 s instead of five minutes.
    prepare: async (page) => {
      await page.addInitScript(() => localStorage.setItem('natter.idle_ms', '1500'));
    },
  });
  const panel = await openPanel(a);
  await expect(bobsDot(panel)).toHaveAttribute('data-presence', 'away', { timeout: 20_000 });
  await b.mouse.move(10, 10);
  await b.mouse.move(40, 40);
  await expect(bobsDot(panel)).toHaveAttribute('data-presence', 'online');
});

test('a private chat shows the other person\'s dot; typing shows until the message comes', async ({ browser, baseURL }) => {
  const res = await alice.api.post('/api/conversations/private', { data: { user_id: bob.id } });
  expect(res.ok(), await res.text()).toBeTruthy();
  const id = (await res.json()).conversation.id;
  const a = await contexts.open(browser, baseURL!, alice, `/chats/${id}`);
  await expect(row(a, id).getByTestId('presence')).toHaveAttribute('data-presence', 'offline');
  const b = await contexts.open(browser, baseURL!, bob, `/chats/${id}`);
  await expect(row(a, id).getByTestId('presence')).toHaveAttribute('data-presence', 'online');
  await expect(a.locator('.thread-head').getByTestId('presence')).toHaveAttribute('data-presence', 'online');

  await b.getByTestId('composer').pressSequentially('hello the', { delay: 30 });
  await expect(a.getByTestId('typing')).toHaveText(`${bob.nickname} is typing…`);
  await b.getByTestId('composer').press('Enter');
  await expect(a.getByTestId('message').filter({ hasText: 'hello the' })).toHaveCount(1);
  await expect(a.getByTestId('typing')).toHaveText('');
  await b.close();
  await expect(row(a, id).getByTestId('presence')).toHaveAttribute('data-presence', 'offline');
});

test('the friends list shows each friend\'s dot, live', async ({ browser, baseURL }) => {
  expect((await alice.api.post('/api/conversations/private', { data: { user_id: bob.id } })).ok()).toBeTruthy();
  const b = await contexts.open(browser, baseURL!, bob, '/chats');
  const a = await contexts.open(browser, baseURL!, alice, '/friends');
  const dot = a.getByTestId('friend-row').filter({ hasText: bob.nickname }).getByTestId('presence');
  await expect(dot).toHaveAttribute('data-presence', 'online');
  await setStatus(b, 'busy');
  await expect(dot).toHaveAttribute('data-presence', 'busy');
});
