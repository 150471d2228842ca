import { expect } from '@playwright/test';

import { Contexts, dispose, register, send, test, type Account } from './support';

// Strangers and consent in the browser: a stranger's private chat arrives as
// a request to accept, decline or block; the privacy settings and the block
// list live on the profile page; a private chat's header blocks and unblocks.

let dana: Account;
let eve: Account;

test.beforeAll(async ({ baseURL }) => {
  dana = await register(baseURL!, 'Dana');
  eve = await register(baseURL!, 'Eve');
});

test.afterAll(() => dispose(dana, eve));

const contexts = new Contexts();
test.afterEach(() => contexts.closeAll());

test('a stranger\'s chat is a request: accepted, it opens with their message', async ({ browser, baseURL }) => {
  const res = await eve.api.post('/api/conversations/private', { data: { user_id: dana.id } });
  expect(res.status(), await res.text()).toBe(201);
  const id = (await res.json()).conversation.id;
  const e = await contexts.open(browser, baseURL!, eve, `/chats/${id}`);
  await send(e, 'hello from a stranger');

  const d = await contexts.open(browser, baseURL!, dana, '/chats');
  const request = d.getByTestId('invitation-row').filter({ has: d.getByTestId('asker') });
  await expect(request.getByTestId('asker')).toHaveText(`${eve.nickname} wants to chat with you`);
  await request.getByTestId('join').click();
  await expect(d).toHaveURL(new RegExp(`/chats/${id}$`));
  await expect(d.getByTestId('message').filter({ hasText: 'hello from a stranger' })).toHaveCount(1);

  // Blocked from the chat's header: eve's next message is refused, and says why.
  await d.getByTestId('chat-menu').click();
  await d.locator('.thread-head').getByTestId('block-user').click();
  await expect(d.locator('.thread-head').getByTestId('block-user')).toHaveText('Unblock');
  await e.getByTestId('composer').fill('still there?');
  await e.getByTestId('composer').press('Enter');
  await expect(e.getByText('Not sent: this person does not accept your messages.')).toBeVisible();

  // The profile page lists the block; unblocking empties it.
  await d.goto('/profile');
  const row = d.getByTestId('blocked-row').filter({ hasText: eve.nickname });
  await expect(row).toHaveCount(1);
  await row.getByTestId('unblock').click();
  await expect(d.getByTestId('no-blocked')).toBeVisible();
});

test('friends only: the setting is saved, and a stranger cannot even ask', async ({ browser, baseURL }) => {
  const d = await contexts.open(browser, baseURL!, dana, '/profile', { locale: 'zh-CN' });
  await d.getByTestId('contact-policy').selectOption('friends');
  await d.getByTestId('save-privacy').click();
  await expect(d.getByText('已保存。')).toBeVisible();
  // Someone dana has no chat with yet (eve's, accepted above, stays open).
  const finn = await register(baseURL!, 'Finn');
  const res = await finn.api.post('/api/conversations/private', { data: { user_id: dana.id } });
  expect(res.status()).toBe(403);
  expect((await res.json()).code).toBe('not_accepting');
  await dispose(finn);
  // Back to everyone, for the other tests.
  await d.getByTestId('contact-policy').selectOption('everyone');
  await d.getByTestId('save-privacy').click();
  await expect.poll(async () => (await (await dana.api.get('/api/me/privacy')).json()).contact).toBe('everyone');
});
