import { expect, type Page } from '@playwright/test';

// What the group-call and live specs share: every RTCPeerConnection a page
// makes is remembered (the app keeps its own out of reach), and their
// `getStats()` read as video frames decoded, audio heard and bytes moved.

declare global {
  interface Window {
    natterPeers?: RTCPeerConnection[];
  }
}

/** Remembers the page's peer connections; call before it loads. */
export async function watchPeers(page: Page) {
  await page.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    const peers: RTCPeerConnection[] = [];
    window.natterPeers = peers;
    window.RTCPeerConnection = class extends Native {
      constructor(config?: RTCConfiguration) {
        super(config);
        peers.push(this);
      }
    } as typeof RTCPeerConnection;
  });
}

export interface Flow {
  /** Frames decoded of each inbound video stream. */
  decoded: number[];
  bytesReceived: number;
  bytesSent: number;
}

/** What the page's open peer connections have moved so far. */
export async function flow(page: Page): Promise<Flow> {
  return page.evaluate(async () => {
    const result = { decoded: [] as number[], bytesReceived: 0, bytesSent: 0 };
    for (const pc of window.natterPeers ?? []) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') {
          result.decoded.push(s.framesDecoded ?? 0);
          result.bytesReceived += s.bytesReceived ?? 0;
        }
        if (s.type === 'outbound-rtp' && s.kind === 'video') result.bytesSent += s.bytesSent ?? 0;
      });
    }
    return result;
  });
}

/** Waits until `streams` inbound videos decode frames, and goes on decoding. */
export async function decodes(page: Page, streams: number) {
  await expect
    .poll(async () => (await flow(page)).decoded.filter((n) => n > 0).length, { timeout: 30_000 })
    .toBeGreaterThanOrEqual(streams);
  const before = (await flow(page)).decoded;
  await page.waitForTimeout(2_000);
  const after = (await flow(page)).decoded;
  const growing = after.filter((n, i) => n > (before[i] ?? 0)).length;
  expect(growing, `decoded ${before} then ${after}`).toBeGreaterThanOrEqual(streams);
}

/** Packets received and samples decoded of each inbound audio stream, by stats id. */
export async function heard(page: Page): Promise<Record<string, { packets: number; samples: number }>> {
  return page.evaluate(async () => {
    const result: Record<string, { packets: number; samples: number }> = {};
    for (const [i, pc] of (window.natterPeers ?? []).entries()) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          result[`${i}/${s.id}`] = { packets: s.packetsReceived ?? 0, samples: s.totalSamplesReceived ?? 0 };
        }
      });
    }
    return result;
  });
}

/** What `read` gives, or `undefined` when the page has not answered within
 * 10 s. In CI one page among eight busy ones at times answered no evaluate
 * for 15 s or more (while it went on playing all seven streams): a poll
 * should then ask again, and say so, rather than spend its whole timeout on
 * one read. */
async function answered<T>(page: Page, read: Promise<T>): Promise<T | undefined> {
  read.catch(() => {});
  const late = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10_000));
  const answer = await Promise.race([read, late]);
  if (answer === undefined) console.log(`the page at ${page.url()} gave no stats within 10 s; asking again`);
  return answer;
}

/** Waits until `streams` inbound audio streams are heard, and each goes on
 * bringing packets and decoded samples. Eight browsers on two cores decode
 * slowly: a stream may take a while to play, hence the long wait. */
export async function hears(page: Page, streams: number) {
  const read = () => answered(page, heard(page));
  const playing = async () => Object.values((await read()) ?? {}).filter((a) => a.packets > 0 && a.samples > 0).length;
  await expect.poll(playing, { timeout: 90_000 }).toBeGreaterThanOrEqual(streams);
  let before = await read();
  while (!before) before = await read();
  const growing = async () => {
    const now = (await read()) ?? {};
    return Object.entries(now).filter(([id, a]) => a.packets > (before[id]?.packets ?? 0) && a.samples > (before[id]?.samples ?? 0)).length;
  };
  await expect.poll(growing, { timeout: 30_000, message: `audio streams growing on ${page.url()}` }).toBeGreaterThanOrEqual(streams);
}
