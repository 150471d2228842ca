import { defineConfig } from '@playwright/test';

// Debian's chromium package: Playwright's own browser downloads are not
// reachable from our machines.
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const chromiumArgs = [
  '--no-sandbox', // we run as root
  '--disable-gpu',
  '--disable-quic',
  // Nothing but our server should be contacted during a test.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

// The server is started by scripts/test.sh, not by Playwright: it owns the
// build and the database, and points us at it with NATTER_BASE_URL.
export default defineConfig({
  testDir: 'tests',
  // Two slow cores: keep parallelism low and timeouts generous.
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  forbidOnly: !!process.env.CI,
  // `list` for people; the JSON file lets the test script count results.
  reporter: [['list'], ['json', { outputFile: 'test-results/results.json' }]],
  use: {
    baseURL: process.env.NATTER_BASE_URL || 'http://127.0.0.1:3000',
    // The browser asks for English unless a test says otherwise.
    locale: 'en-US',
    navigationTimeout: 30_000,
    actionTimeout: 15_000,
    trace: 'off',
  },
  projects: [
    {
      name: 'chromium',
      // Call specs need fake media and a network namespace: project `calls`.
      testIgnore: 'calls/**',
      use: {
        browserName: 'chromium',
        launchOptions: { executablePath, args: chromiumArgs },
      },
    },
    {
      // Calls and rooms: fake camera and microphone, allowed without asking.
      // Run where loopback is the only interface (scripts/test.sh starts the
      // server and this project in a network namespace), so every media and
      // ICE packet stays on 127.0.0.1.
      name: 'calls',
      testDir: 'tests/calls',
      use: {
        browserName: 'chromium',
        permissions: ['microphone', 'camera'],
        launchOptions: {
          executablePath,
          args: [
            ...chromiumArgs,
            '--use-fake-device-for-media-stream',
            '--use-fake-ui-for-media-stream',
            '--allow-loopback-in-peer-connection',
            '--autoplay-policy=no-user-gesture-required',
          ],
        },
      },
    },
  ],
});
