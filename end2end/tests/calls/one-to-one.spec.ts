import { execFileSync } from 'node:child_process';

import { expect, type Browser, type Page } from '@playwright/test';

import { Contexts, dispose, friends, register, test, type Account } from '../support';

// 1:1 calls between real browsers with fake cameras and microphones, media
// over loopback only (run in a network namespace: see scripts/test.sh). The
// server rings for 5 s and waits 3 s for a dropped tab
// (`--call-ring-secs 5 --call-grace-secs 3`).

let alice: Account;
let bob: Account;
let chat: string;

test.beforeAll(async ({ baseURL }) => {
  [alice, bob] = await friends(baseURL!);
  const res = await alice.api.post('/api/conversations/private', { data: { user_id: bob.id } });
  expect(res.ok(), await res.text()).toBeTruthy();
  chat = (await res.json()).conversation.id;
});

test.afterAll(() => dispose(alice, bob));

const contexts = new Contexts();
test.afterEach(() => contexts.closeAll());

/** A signed-in page whose peer connections the test can read the stats of. */
async function open(
  browser: Browser,
  baseURL: string,
  account: Account,
  path: string,
  viewport?: { width: number; height: number },
  prepare?: (page: Page) => Promise<void>,
) {
  return contexts.open(browser, baseURL, account, path, {
    viewport,
    prepare: async (page) => {
      await prepare?.(page);
      await page.addInitScript(() => {
        const Native = window.RTCPeerConnection;
        const made: RTCPeerConnection[] = [];
        (window as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections = made;
        window.RTCPeerConnection = class extends Native {
          constructor(config?: RTCConfiguration) {
            super(config);
            made.push(this);
          }
        } as typeof RTCPeerConnection;
      });
    },
  });
}

/** Video frames this page decoded from the other side, over its open connections. */
function framesDecoded(page: Page): Promise<number> {
  return page.evaluate(async () => {
    let frames = 0;
    for (const pc of (window as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded ?? 0;
      });
    }
    return frames;
  });
}

/** Every ICE candidate either side used is on loopback. */
function remoteAddresses(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const addresses: string[] = [];
    for (const pc of (window as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections) {
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'remote-candidate' || s.type === 'local-candidate') addresses.push(s.address ?? s.ip);
      });
    }
    return addresses;
  });
}

/** The ICE state of the page's call connection. */
function iceState(page: Page): Promise<string> {
  return page.evaluate(() => {
    const pcs = (window as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections;
    return pcs[pcs.length - 1].iceConnectionState;
  });
}

/** The ICE username fragment the page's call connection offers: a restart changes it. */
function ufrag(page: Page): Promise<string> {
  return page.evaluate(() => {
    const pcs = (window as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections;
    return /a=ice-ufrag:(\S+)/.exec(pcs[pcs.length - 1].localDescription!.sdp)![1];
  });
}

const PHONE = { width: 360, height: 740 };

async function fitsThePhone(element: ReturnType<Page['getByTestId']>) {
  const box = (await element.boundingBox())!;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(PHONE.width);
}

/** `a` calls `b` by video, `b` accepts, and `b` decodes `a`'s video. */
async function videoCallFlowing(a: Page, b: Page) {
  await a.getByTestId('call-video').click();
  await b.getByTestId('call-accept').click();
  await expect.poll(() => framesDecoded(b), { timeout: 20_000 }).toBeGreaterThan(10);
}

function records(page: Page) {
  return page.getByTestId('call-record');
}

test('a video call: each side decodes the other\'s video, and the call is recorded with its length', async ({ browser, baseURL }) => {
  const a = await open(browser, baseURL!, alice, `/chats/${chat}`);
  // Bob is on another page: the call rings wherever he is.
  const b = await open(browser, baseURL!, bob, '/friends');
  await a.getByTestId('call-video').click();
  await expect(a.getByTestId('call-outgoing')).toBeVisible();
  const incoming = b.getByTestId('call-incoming');
  await expect(incoming).toBeVisible();
  await expect(incoming.getByTestId('call-caller')).toHaveText(alice.nickname);
  await incoming.getByTestId('call-accept').click();
  await expect(a.getByTestId('call-view')).toBeVisible();
  await expect(b.getByTestId('call-view')).toBeVisible();

  for (const page of [a, b]) {
    await expect.poll(() => framesDecoded(page), { timeout: 20_000 }).toBeGreaterThan(10);
  }
  const [beforeA, beforeB] = [await framesDecoded(a), await framesDecoded(b)];
  await expect.poll(() => framesDecoded(a)).toBeGreaterThan(beforeA + 10);
  await expect.poll(() => framesDecoded(b)).toBeGreaterThan(beforeB + 10);
  for (const address of [...(await remoteAddresses(a)), ...(await remoteAddresses(b))]) {
    expect(address).toBe('127.0.0.1');
  }
  await expect(a.getByTestId('call-timer')).toHaveText(/^\d+:\d\d$/);

  // Each side's state shows on the other's screen.
  await a.getByTestId('call-mute').click();
  await expect(b.getByTestId('peer-state')).toContainText('Muted');
  await a.getByTestId('call-camera').click();
  await expect(b.getByTestId('peer-state')).toContainText('Camera off');
  await a.getByTestId('call-mute').click();
  await expect(b.getByTestId('peer-state')).not.toContainText('Muted');

  await b.getByTestId('call-hangup').click();
  await expect(a.getByTestId('call-view')).toBeHidden();
  await expect(a.getByTestId('call-notice')).toHaveText('Call ended');
  await expect(records(a).last()).toHaveAttribute('data-outcome', 'ended');
  await expect(records(a).last()).toContainText(/Video call · \d+:\d\d/);
  await b.goto(`/chats/${chat}`);
  await expect(records(b).last()).toHaveAttribute('data-outcome', 'ended');
});

test('declined, cancelled and missed calls are recorded on both sides; a missed call stands out', async ({ browser, baseURL }) => {
  const a = await open(browser, baseURL!, alice, `/chats/${chat}`);
  const b = await open(browser, baseURL!, bob, `/chats/${chat}`);
  const before = await records(a).count();

  await a.getByTestId('call-voice').click();
  await b.getByTestId('call-decline').click();
  await expect(a.getByTestId('call-notice')).toHaveText('Declined');
  await expect(a.getByTestId('call-outgoing')).toBeHidden();

  await a.getByTestId('call-video').click();
  await expect(b.getByTestId('call-incoming')).toBeVisible();
  await a.getByTestId('call-cancel').click();
  await expect(b.getByTestId('call-incoming')).toBeHidden();

  await a.getByTestId('call-voice').click();
  await expect(b.getByTestId('call-incoming')).toBeVisible();
  await expect(a.getByTestId('call-notice')).toHaveText('No answer', { timeout: 15_000 });
  await expect(b.getByTestId('call-incoming')).toBeHidden();
  await expect(b.getByTestId('call-notice')).toHaveText('Missed call');

  for (const page of [a, b]) {
    await expect(records(page)).toHaveCount(before + 3);
    const outcomes = await records(page).evaluateAll((els) => els.slice(-3).map((e) => e.getAttribute('data-outcome')));
    expect(outcomes).toEqual(['declined', 'cancelled', 'missed']);
  }
  await expect(records(b).last()).toHaveClass(/missed/);
  await expect(records(a).last()).not.toHaveClass(/missed/);
  await expect(records(a).last()).toContainText('No answer');
});

test('both tabs of the callee ring; accepting on one stops the other', async ({ browser, baseURL }) => {
  const a = await open(browser, baseURL!, alice, `/chats/${chat}`);
  const b1 = await open(browser, baseURL!, bob, '/chats', PHONE);
  const b2 = await open(browser, baseURL!, bob, '/profile');
  await a.getByTestId('call-voice').click();
  await expect(b1.getByTestId('call-incoming')).toBeVisible();
  await expect(b2.getByTestId('call-incoming')).toBeVisible();
  await fitsThePhone(b1.getByTestId('call-incoming'));
  await expect(b1.getByTestId('call-accept')).toBeInViewport();
  await b2.getByTestId('call-accept').click();
  await expect(b2.getByTestId('call-view')).toBeVisible();
  await expect(b1.getByTestId('call-incoming')).toBeHidden();
  await expect(b1.getByTestId('call-view')).toBeHidden();
  await expect(a.getByTestId('call-timer')).toHaveText(/^\d+:\d\d$/, { timeout: 20_000 });
  await a.getByTestId('call-hangup').click();
  await expect(b2.getByTestId('call-view')).toBeHidden();
});

test('calling someone already in a call says busy', async ({ browser, baseURL }) => {
  const cat = await register(baseURL!, 'Cat');
  const res = await cat.api.post('/api/conversations/private', { data: { user_id: bob.id } });
  const catChat = (await res.json()).conversation.id;
  // A stranger's chat is a request until bob accepts it.
  expect((await bob.api.post(`/api/conversations/${catChat}/join`)).status()).toBe(200);
  const a = await open(browser, baseURL!, alice, `/chats/${chat}`);
  const b = await open(browser, baseURL!, bob, '/chats');
  const c = await open(browser, baseURL!, cat, `/chats/${catChat}`);
  await a.getByTestId('call-voice').click();
  await b.getByTestId('call-accept').click();
  await expect(b.getByTestId('call-view')).toBeVisible();
  await c.getByTestId('call-voice').click();
  await expect(c.getByTestId('call-notice')).toHaveText('Busy: they are in another call');
  await expect(records(c).last()).toHaveAttribute('data-outcome', 'busy');
  await expect(b.getByTestId('call-view')).toBeVisible();
  await a.getByTestId('call-hangup').click();
  await expect(b.getByTestId('call-view')).toBeHidden();
  await dispose(cat);
});

test('a callee whose connection drops comes back into the call (the server waits 3 s here)', async ({ browser, baseURL }) => {
  const a = await open(browser, baseURL!, alice, `/chats/${chat}`);
  // Bob's websocket goes through the test, which can cut it.
  let cut = () => {};
  const b = await open(browser, baseURL!, bob, `/chats/${chat}`, PHONE, (page) =>
    page.routeWebSocket(/\/ws$/, (ws) => {
      const server = ws.connectToServer();
      cut = () => {
        server.close();
        ws.close();
      };
    }),
  );
  const before = await records(a).count();
  await videoCallFlowing(a, b);
  for (const id of ['call-mute', 'call-camera', 'call-hangup']) {
    await expect(b.getByTestId(id)).toBeInViewport();
  }
  await fitsThePhone(b.getByTestId('call-hangup'));

  // The websocket drops (the media path does not); the tab reconnects and takes its side back.
  cut();
  await expect(b.getByTestId('connection')).not.toHaveAttribute('data-state', 'online');
  await expect(b.getByTestId('connection')).toHaveAttribute('data-state', 'online', { timeout: 20_000 });
  await a.waitForTimeout(4000); // past the server's grace period
  await expect(a.getByTestId('call-view')).toBeVisible();
  await expect(b.getByTestId('call-view')).toBeVisible();
  // Signalling still reaches the new connection.
  await a.getByTestId('call-mute').click();
  await expect(b.getByTestId('peer-state')).toContainText('Muted');
  const frames = await framesDecoded(b);
  await expect.poll(() => framesDecoded(b)).toBeGreaterThan(frames + 10);
  await a.getByTestId('call-hangup').click();
  await expect(b.getByTestId('call-view')).toBeHidden();
  await expect(records(a)).toHaveCount(before + 1);
  await expect(records(a).last()).toHaveAttribute('data-outcome', 'ended');
});

test('when the media path fails, the caller restarts ICE and the call goes on', async ({ browser, baseURL }) => {
  const a = await open(browser, baseURL!, alice, `/chats/${chat}`);
  const b = await open(browser, baseURL!, bob, `/chats/${chat}`);
  await videoCallFlowing(a, b);
  const before = await ufrag(a);
  // The loopback path cannot be cut from here, so the caller's connection
  // is made to report "disconnected", as it would when the network drops.
  await a.evaluate(() => {
    const pcs = (window as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections;
    const pc = pcs[pcs.length - 1];
    Object.defineProperty(pc, 'iceConnectionState', { configurable: true, get: () => 'disconnected' });
    pc.dispatchEvent(new Event('iceconnectionstatechange'));
    // The restart's own state changes report the truth again.
    delete (pc as unknown as { iceConnectionState?: string }).iceConnectionState;
  });
  await expect(b.getByTestId('peer-state')).toContainText('Reconnecting');
  await expect.poll(() => ufrag(a)).not.toBe(before);
  await expect(b.getByTestId('peer-state')).not.toContainText('Reconnecting', { timeout: 20_000 });
  const frames = await framesDecoded(b);
  await expect.poll(() => framesDecoded(b)).toBeGreaterThan(frames + 10);
  await a.getByTestId('call-hangup').click();
  await expect(b.getByTestId('call-view')).toBeHidden();
});

/** Runs a command as root: directly when the runner is root, else through sudo without a password. */
function asRoot(...command: string[]) {
  if (process.getuid?.() === 0) execFileSync(command[0], command.slice(1), { stdio: 'ignore' });
  else execFileSync('sudo', ['-n', ...command], { stdio: 'ignore' });
}

/** Whether this runner sits in a named network namespace of its own (see
 * scripts/test.sh), where taking loopback down cuts only the test's
 * network, and may do it. */
function mayCutLoopback(): boolean {
  try {
    if (execFileSync('ip', ['netns', 'identify', String(process.pid)]).toString().trim() === '') return false;
    asRoot('true');
    return true;
  } catch {
    return false;
  }
}

/** Sets the namespace's loopback `up` or `down`. */
function loopback(state: 'up' | 'down') {
  asRoot('ip', 'link', 'set', 'lo', state);
}


test('a real network drop: ICE goes down, the caller restarts it and the frames come back', async ({ browser, baseURL }) => {
  test.skip(!mayCutLoopback(), 'takes loopback down: only as root in a network namespace of its own');
  const a = await open(browser, baseURL!, alice, `/chats/${chat}`);
  const b = await open(browser, baseURL!, bob, `/chats/${chat}`);
  await videoCallFlowing(a, b);
  const before = await ufrag(a);
  loopback('down');
  try {
    await expect.poll(() => iceState(a), { timeout: 20_000 }).toMatch(/disconnected|failed/);
    await expect(a.getByTestId('call-view')).toBeVisible();
  } finally {
    loopback('up');
  }
  await expect.poll(() => ufrag(a)).not.toBe(before);
  await expect.poll(() => iceState(a), { timeout: 30_000 }).toMatch(/connected|completed/);
  await expect(b.getByTestId('peer-state')).not.toContainText('Reconnecting', { timeout: 20_000 });
  const frames = await framesDecoded(b);
  await expect.poll(() => framesDecoded(b), { timeout: 20_000 }).toBeGreaterThan(frames + 10);
  await a.getByTestId('call-hangup').click();
  await expect(b.getByTestId('call-view')).toBeHidden();
});
