import { expect } from '@playwright/test';

import { Contexts, fromMenu, group, messages, register, send, setStatus, test } from './support';

// Seed 000's demo: two server nodes on two ports sharing MongoDB and Redis,
// two browsers, one on each node, in one group. The test script starts the
// nodes and names the second one in NATTER_SECOND_URL.

const second = process.env.NATTER_SECOND_URL;
test.skip(!second, 'needs two nodes (NATTER_SECOND_URL)');

const contexts = new Contexts();
test.afterEach(() => contexts.closeAll());

test('two browsers on two nodes chat in one group and see each other\'s status', async ({ browser, baseURL }) => {
  const alice = await register(baseURL!, 'Alice');
  const bob = await register(baseURL!, 'Bob');
  const id = await group(alice, `Two nodes ${Date.now()}`, [bob]);
  const a = await contexts.open(browser, baseURL!, alice, `/chats/${id}`);
  const b = await contexts.open(browser, second!, bob, `/chats/${id}`);
  expect(new URL(a.url()).port).not.toBe(new URL(b.url()).port);

  const hello = `Hello from node A ${Date.now()}`;
  await send(a, hello);
  await expect(messages(b, hello)).toHaveCount(1);
  const reply = `Hi from node B ${Date.now()}`;
  await send(b, reply);
  await expect(messages(a, reply)).toHaveCount(1);

  await fromMenu(a, 'chat-menu', 'group-info');
  const bobsDot = a.getByTestId('group-panel').getByTestId('participant').filter({ hasText: bob.nickname }).getByTestId('presence');
  await expect(bobsDot).toHaveAttribute('data-presence', 'online');
  await setStatus(b, 'busy');
  await expect(bobsDot).toHaveAttribute('data-presence', 'busy');
  await b.getByTestId('composer').pressSequentially('typing across', { delay: 30 });
  await expect(a.getByTestId('typing')).toContainText(bob.nickname);
  await b.context().close();
  await expect(bobsDot).toHaveAttribute('data-presence', 'offline');
  await alice.api.dispose();
  await bob.api.dispose();
});
