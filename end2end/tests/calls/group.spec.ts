import { expect } from '@playwright/test';

import { Contexts, dispose, group, register, test } from '../support';
import { decodes, watchPeers } from './rooms';

// A group call through the server's forwarding unit: three browsers, each
// decoding the other two's video; the banner counts who is in; the last to
// leave ends it and the call is recorded in the chat.

test('a group video call of three: everyone decodes everyone else', async ({ browser, baseURL }) => {
  test.setTimeout(180_000);
  const people = [await register(baseURL!, 'Ann'), await register(baseURL!, 'Bob'), await register(baseURL!, 'Cat')];
  const id = await group(people[0], `Call ${Date.now()}`, people.slice(1));
  const contexts = new Contexts();
  const prepare = watchPeers;
  const pages = [];
  for (const person of people) pages.push(await contexts.open(browser, baseURL!, person, `/chats/${id}`, { prepare }));
  const [ann, bob, cat] = pages;

  await ann.getByTestId('start-video-call').click();
  await expect(ann.getByTestId('room-tile')).toHaveCount(1);
  for (const page of [bob, cat]) {
    await expect(page.getByTestId('call-banner')).toBeVisible();
    await page.getByTestId('join-call').click();
  }
  for (const page of pages) await expect(page.getByTestId('room-tile')).toHaveCount(3);
  for (const page of pages) await decodes(page, 2);

  // Leaving: the others' grids shrink; the last one out ends the call.
  await cat.getByTestId('leave-room').click();
  await expect(ann.getByTestId('room-tile')).toHaveCount(2);
  await expect(cat.getByTestId('call-banner')).toContainText('2');
  await bob.getByTestId('leave-room').click();
  await ann.getByTestId('leave-room').click();
  await expect(cat.getByTestId('call-banner')).toHaveCount(0);
  await expect(cat.getByTestId('message').filter({ hasText: /video call/i })).toHaveCount(1);
  await contexts.closeAll();
  await dispose(...people);
});
