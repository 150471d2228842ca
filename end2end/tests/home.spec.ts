import { expect, type Page } from '@playwright/test';
import { test } from './support';

const EN_HEADLINE = 'Welcome to Natter';
const ZH_HEADLINE = '欢迎使用 Natter';

/** Waits until the wasm app has hydrated the server-rendered page. */
async function hydrated(page: Page) {
  await page.locator('body[data-hydrated="true"]').waitFor();
}

test.describe('server rendering', () => {
  test('renders English for an English browser', async ({ request }) => {
    const res = await request.get('/', { headers: { 'Accept-Language': 'en' } });
    expect(res.status()).toBe(200);
    const html = await res.text();
    expect(html).toContain('data-testid="headline"');
    expect(html).toContain(EN_HEADLINE);
    expect(html).toMatch(/<html[^>]*\slang="en"/);
  });

  test('renders Chinese for a Chinese browser', async ({ request }) => {
    const res = await request.get('/', { headers: { 'Accept-Language': 'zh-CN,zh;q=0.9' } });
    expect(res.status()).toBe(200);
    const html = await res.text();
    expect(html).toContain(ZH_HEADLINE);
    expect(html).toMatch(/<html[^>]*\slang="zh-CN"/);
  });

  test('answers unknown paths with 404 and the not-found page', async ({ request }) => {
    const res = await request.get('/no-such-page', { headers: { 'Accept-Language': 'en' } });
    expect(res.status()).toBe(404);
    expect(await res.text()).toContain('Page not found');
  });
});

test('switches language live and remembers the choice', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  const headline = page.getByTestId('headline');
  await expect(headline).toHaveText(EN_HEADLINE);

  await page.getByTestId('language').selectOption('zh-CN');
  await expect(headline).toHaveText(ZH_HEADLINE);
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN');

  // The choice lives in a cookie, so the server renders Chinese from now on.
  await page.reload();
  await hydrated(page);
  await expect(headline).toHaveText(ZH_HEADLINE);
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN');
  await expect(page.getByTestId('language')).toHaveValue('zh-CN');
});

test('shows the not-found page in the browser', async ({ page }) => {
  const res = await page.goto('/no-such-page');
  expect(res?.status()).toBe(404);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Page not found');
  await expect(page.locator('main a[href="/"]')).toBeVisible();
});

test.describe('on a phone', () => {
  test.use({ viewport: { width: 360, height: 740 } });

  for (const [lang, text] of [['en', EN_HEADLINE], ['zh-CN', ZH_HEADLINE]]) {
    test(`fits the screen without scrolling sideways (${lang})`, async ({ page, context, baseURL }) => {
      await context.addCookies([{ name: 'natter_lang', value: lang, url: baseURL! }]);
      await page.goto('/');
      await hydrated(page);
      await expect(page.getByTestId('headline')).toHaveText(text);
      await expect(page.getByTestId('headline')).toBeInViewport();
      await expect(page.getByTestId('language')).toBeInViewport();
      const overflow = await page.evaluate(
        () => document.scrollingElement!.scrollWidth - window.innerWidth,
      );
      expect(overflow).toBeLessThanOrEqual(0);
    });
  }
});

test('a page runs no script it was not sent with', async ({ page, cspViolations }) => {
  await page.goto('/');
  await hydrated(page);
  const ran = await page.evaluate(() => {
    const injected = document.createElement('script');
    injected.textContent = 'document.body.dataset.injected = "yes"';
    document.head.append(injected);
    return document.body.dataset.injected === 'yes';
  });
  expect(ran).toBe(false);
  // The watcher every test has saw it; this test meant it, so it clears it.
  await expect.poll(() => cspViolations.join()).toContain('script-src');
  cspViolations.length = 0;
});
