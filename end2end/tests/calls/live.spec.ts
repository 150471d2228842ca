import { expect, type Page } from '@playwright/test';

import { Contexts, dispose, fromMenu, group, register, test } from '../support';
import { decodes, flow, watchPeers } from './rooms';

// A live broadcast through the server's forwarding unit: four viewers decode
// it while the broadcaster uploads one stream; a non-member cannot watch;
// the broadcaster closing the tab ends it for everyone and it is recorded.
// A broadcast of the screen (`getDisplayMedia`) reaches its viewer too.

const VIEWERS = 4;

test('a live broadcast to four viewers, one upload, ended by closing the tab', async ({ browser, baseURL }) => {
  test.setTimeout(240_000);
  const host = await register(baseURL!, 'Host');
  const viewers = [];
  for (let i = 0; i < VIEWERS; i++) viewers.push(await register(baseURL!, `View${i}`));
  const outsider = await register(baseURL!, 'Out');
  const id = await group(host, `Live ${Date.now()}`, viewers);
  const contexts = new Contexts();
  const hostContext = new Contexts();
  const prepare = watchPeers;
  const on = await hostContext.open(browser, baseURL!, host, `/chats/${id}`, { prepare });

  await fromMenu(on, 'chat-menu', 'go-live');
  await expect(on.getByTestId('viewer-count')).toBeVisible();
  const watching: Page[] = [];
  for (const viewer of viewers) {
    const page = await contexts.open(browser, baseURL!, viewer, `/chats/${id}`, { prepare });
    await expect(page.getByTestId('live-banner')).toBeVisible();
    await page.getByTestId('watch-live').click();
    watching.push(page);
  }
  await expect(on.getByTestId('viewer-count')).toContainText(`${VIEWERS}`);
  for (const page of watching) await decodes(page, 1);

  // One upload however many watch: what the broadcaster sends in a while is
  // about what one viewer receives in it, not four times that.
  const [sentBefore, receivedBefore] = [(await flow(on)).bytesSent, (await flow(watching[0])).bytesReceived];
  await on.waitForTimeout(5_000);
  const sent = (await flow(on)).bytesSent - sentBefore;
  const received = (await flow(watching[0])).bytesReceived - receivedBefore;
  console.log(`broadcaster sent ${sent} bytes in 5 s; one viewer received ${received}`);
  expect(received).toBeGreaterThan(0);
  expect(sent).toBeLessThan(received * 1.5);

  // Someone outside the group cannot watch, whatever they send.
  const out = await contexts.open(browser, baseURL!, outsider, '/chats', { prepare });
  const refusal = await out.evaluate(async (conversation) => {
    const pc = new RTCPeerConnection();
    pc.createDataChannel('natter');
    const offer = await pc.createOffer();
    const ws = new WebSocket(`${location.origin.replace('http', 'ws')}/ws`);
    return new Promise<string>((resolve) => {
      ws.onopen = () =>
        ws.send(JSON.stringify({ type: 'room_join', conversation_id: conversation, kind: 'live', role: 'viewer', sdp: offer.sdp }));
      ws.onmessage = (e) => {
        const frame = JSON.parse(e.data);
        if (frame.type === 'error') resolve(frame.code);
        if (frame.type === 'room_joined') resolve('joined');
      };
    });
  }, id);
  expect(refusal).toBe('not_member');

  // The broadcaster's tab closes: every viewer sees it end, and the chat records it.
  await hostContext.closeAll();
  for (const page of watching) {
    await expect(page.getByTestId('room-status')).toContainText('The broadcast has ended');
    await expect(page.getByTestId('live-banner')).toHaveCount(0);
  }
  await expect(watching[0].getByTestId('message').filter({ hasText: /live/i })).toHaveCount(1);
  await contexts.closeAll();
  await dispose(host, outsider, ...viewers);
});

test('a live broadcast of the screen: the viewer decodes what the broadcaster shares', async ({ browser, baseURL }) => {
  test.setTimeout(120_000);
  const [host, viewer] = [await register(baseURL!, 'Screen'), await register(baseURL!, 'Viewer')];
  const id = await group(host, `Screen ${Date.now()}`, [viewer]);
  const contexts = new Contexts();
  const prepare = watchPeers;
  const on = await contexts.open(browser, baseURL!, host, `/chats/${id}`, { prepare });
  const watching = await contexts.open(browser, baseURL!, viewer, `/chats/${id}`, { prepare });

  await fromMenu(on, 'chat-menu', 'go-live-screen');
  await expect(on.getByTestId('viewer-count')).toBeVisible();
  // What goes out is a capture of a screen, not the camera.
  const surface = await on.getByTestId('room-video').evaluate((video: HTMLVideoElement) => {
    const [track] = (video.srcObject as MediaStream).getVideoTracks();
    return track.getSettings().displaySurface;
  });
  expect(surface).toBe('monitor');
  await watching.getByTestId('watch-live').click();
  await decodes(watching, 1);
  await on.getByTestId('leave-room').click();
  await expect(watching.getByTestId('room-status')).toContainText('The broadcast has ended');
  await contexts.closeAll();
  await dispose(host, viewer);
});
