import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';

import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test';

import config from '../playwright.config';
import { fromMenu, group, open, register, test, type Account } from './support';

// Files in the browser: one user sends a picture and a file, the other sees
// the thumbnail, opens the full picture and downloads the same bytes; the
// same file sent again goes by instant upload, without its bytes; a voice
// note recorded with Chromium's fake microphone plays for the other.

// Chromium's fake camera and microphone, granted without asking; the
// config's own flags kept. (Launch options apply to the whole file.)
const launch = config.projects![0].use!.launchOptions!;
test.use({
  launchOptions: {
    ...launch,
    args: [...(launch.args ?? []), '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
  },
});

let alice: Account;
let bob: Account;

test.beforeAll(async ({ baseURL }) => {
  alice = await register(baseURL!, 'Alice');
  bob = await register(baseURL!, 'Bob');
});

test.afterAll(async () => {
  await alice.api.dispose();
  await bob.api.dispose();
});

const contexts: BrowserContext[] = [];
test.afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});

async function openAs(browser: Browser, baseURL: string, account: Account, path: string) {
  const opened = await open(browser, baseURL, account, path);
  contexts.push(opened.context);
  return opened.page;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function crc32(bytes: Buffer): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return ~crc >>> 0;
}

/** A `width`×`height` RGB PNG: a gradient under a first row of random pixels. */
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows.set([x * 4, y * 4, 160], y * (width * 3 + 1) + 1 + x * 3);
  }
  rows.set(randomBytes(width * 3), 1);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

/** Remembers the upload requests a page makes. */
function watchUploads(page: Page) {
  const seen = { uploads: [] as string[], proofs: [] as number[] };
  page.on('request', (req) => {
    const path = new URL(req.url()).pathname;
    if (req.method() === 'POST' && path === '/api/files') seen.uploads.push(req.url());
  });
  page.on('response', (res) => {
    if (/\/api\/files\/instant\/[^/]+$/.test(new URL(res.url()).pathname)) seen.proofs.push(res.status());
  });
  return seen;
}

const attachments = (page: Page) => page.getByTestId('message').and(page.locator('[data-seq]'));

test('a picture and a file reach the other, byte for byte; sending it again sends no bytes', async ({ browser, baseURL }) => {
  const id = await group(alice, `Files ${Date.now()}`, [bob]);
  const a = await openAs(browser, baseURL!, alice, `/chats/${id}`);
  const b = await openAs(browser, baseURL!, bob, `/chats/${id}`);
  const uploads = watchUploads(a);

  // Content new to the server (which may have served earlier runs).
  const picture = png(480, 360);
  await a.getByTestId('attach-input').setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: picture });
  const thumbnail = b.getByTestId('attachment-image');
  await expect(thumbnail).toBeVisible();
  await expect.poll(() => thumbnail.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(320);
  await thumbnail.click();
  const full = b.getByTestId('full-image');
  await expect(full).toBeVisible();
  await expect.poll(() => full.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(480);
  await b.getByTestId('lightbox').click();
  await expect(full).toHaveCount(0);

  const bytes = randomBytes(200_000);
  bytes[0] = 0; // never text
  const file = { name: 'report 报告.bin', mimeType: 'application/octet-stream', buffer: bytes };
  await a.getByTestId('attach-input').setInputFiles(file);
  const card = b.getByTestId('attachment-file');
  await expect(card.getByTestId('attachment-name')).toHaveText('report 报告.bin');
  await expect(card).toContainText('195.3 KB');
  const [download] = await Promise.all([b.waitForEvent('download'), card.getByTestId('attachment-download').click()]);
  expect(download.suggestedFilename()).toBe('report 报告.bin');
  expect(sha256(await readFile((await download.path())!))).toBe(sha256(bytes));
  expect(uploads.uploads).toHaveLength(2);
  await expect(attachments(a)).toHaveCount(2);

  // Again: the server holds this content, so the browser proves it and sends no bytes.
  await a.getByTestId('attach-input').setInputFiles(file);
  await expect(b.getByTestId('attachment-file')).toHaveCount(2);
  expect(uploads.proofs).toEqual([201]);
  expect(uploads.uploads).toHaveLength(2);
});

test('a file the server refuses says why, and nothing is sent', async ({ browser, baseURL }) => {
  const id = await group(alice, `Refused ${Date.now()}`, [bob]);
  const a = await openAs(browser, baseURL!, alice, `/chats/${id}`);
  await a.getByTestId('attach-input').setInputFiles({ name: 'empty.txt', mimeType: 'text/plain', buffer: Buffer.alloc(0) });
  await expect(a.getByTestId('attach-error')).toHaveText('This file is empty.');
  await expect(a.getByTestId('message')).toHaveCount(0);
});

test('a recorded voice note and video clip play for the other, on a phone too', async ({ browser, baseURL }) => {
  const id = await group(alice, `Voice ${Date.now()}`, [bob]);
  const a = await openAs(browser, baseURL!, alice, `/chats/${id}`);
  const opened = await open(browser, baseURL!, bob, `/chats/${id}`, { viewport: { width: 360, height: 740 } });
  contexts.push(opened.context);
  const b = opened.page;
  await a.context().grantPermissions(['microphone', 'camera']);

  await fromMenu(a, 'attach-menu', 'record-voice');
  await expect(a.getByTestId('recording-time')).toHaveText('0:01', { timeout: 5_000 });
  await a.getByTestId('record-stop').click();
  await expect(a.getByTestId('recording')).toHaveCount(0);

  const audio = b.getByTestId('attachment-audio');
  await expect(audio).toBeVisible();
  await expect(b.getByTestId('attachment-duration')).toHaveText(/^0:0[1-3]$/);
  // The player can read what it got.
  await expect.poll(() => audio.evaluate((el: HTMLAudioElement) => el.readyState)).toBeGreaterThan(0);

  await fromMenu(a, 'attach-menu', 'record-video');
  await expect(a.getByTestId('camera-preview')).toBeVisible();
  await expect(a.getByTestId('recording-time')).toHaveText('0:01', { timeout: 5_000 });
  await a.getByTestId('record-stop').click();
  const video = b.getByTestId('attachment-video');
  await expect(video).toBeVisible();
  await expect.poll(() => video.evaluate((el: HTMLVideoElement) => el.readyState)).toBeGreaterThan(0);

  // Nothing makes the phone's page scroll sideways.
  expect(await b.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
});
