// The broadcaster page on a phone and when things go wrong, in Debian's Chromium against a real
// icecast2 and the daemon: the status and Go live / Stop on the first screen of a 390×844 touch
// screen, the page telling the truth while Icecast is down, the summary of a show that ended, and
// plain http on a LAN name (not a secure context). Screenshots go to test-output/screenshots/.
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { listen, waitForMount } from '../helpers/listener.js';
import { childFfmpegPids, startStack, type Stack } from '../helpers/stack.js';
import { fillLogin, launchChromium, saveScreenshot, waitForState } from './browser-helpers.js';

// Page-side code runs in the browser; these stand in for the browser globals it touches.
interface PageNode { textContent: string | null; dataset: Record<string, string | undefined>; hidden: boolean }
declare const document: { getElementById(id: string): PageNode | null };
declare const window: { scrollY: number };

const PHONE = { width: 390, height: 844 };
const LAN_NAME = 'studio.lan';

/** Where an element is on the screen now, and whether all of it is inside the first screen. */
async function onFirstScreen(page: Page, selector: string): Promise<{ y: number; bottom: number; inside: boolean }> {
  const box = await page.locator(selector).boundingBox();
  assert.ok(box !== null, `${selector} is rendered`);
  const scrollY = await page.evaluate(() => window.scrollY);
  const y = box.y + scrollY; // position on the page, whatever the scroll
  return { y, bottom: y + box.height, inside: y >= 0 && y + box.height <= PHONE.height && box.width > 0 };
}

async function figures(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() => {
    const t = (id: string): string => document.getElementById(id)!.textContent ?? '';
    const up = document.getElementById('upload')!;
    const st = document.getElementById('status')!;
    return {
      state: st.dataset['state'] ?? '', audience: st.dataset['audience'] ?? '', text: t('status-text'),
      detail: document.getElementById('status-detail')!.hidden ? '' : t('status-detail'),
      health: up.dataset['health'] ?? '', upload: t('upload'),
      elapsed: t('elapsed'), listeners: t('listeners'), sent: t('bytes-sent'),
    };
  });
}

describe('broadcaster page: phone screen, truth on air, summary, plain http', function () {
  this.timeout(60000);
  let browser: Browser;
  let stack: Stack;

  before(async () => {
    // A LAN-style name for the daemon's address: http://studio.lan:<port> is not a secure context.
    browser = await launchChromium([`--host-resolver-rules=MAP ${LAN_NAME} 127.0.0.1`]);
    stack = await startStack();
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
    assert.deepEqual(childFfmpegPids(), [], 'no ffmpeg is left behind');
  });
  afterEach(async () => {
    for (const ctx of browser.contexts()) await ctx.close();
  });

  it('phone 390×844: status and Go live / Stop on the first screen before and on air; sign-in folds away', async () => {
    const ctx = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const page = await ctx.newPage();
    await page.goto(`${stack.baseUrl}/`);
    await page.waitForSelector('body[data-auth-mode="accounts"]', { timeout: 10000 });
    // Before: the sign-in form, the status and Go live all on the first screen.
    for (const sel of ['#status', '#go-live', '#user', '#password', '#mount']) {
      const b = await onFirstScreen(page, sel);
      assert.ok(b.inside, `${sel} is on the first screen before going live (${b.y}..${b.bottom} of ${PHONE.height})`);
    }
    await saveScreenshot(page, 'phone-before');

    await fillLogin(page, stack.broadcaster.name, stack.broadcaster.password);
    await page.tap('#go-live');
    assert.equal(await waitForState(page, ['live', 'error'], 15000), 'live');
    await page.evaluate(() => { (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0); });
    assert.equal(await page.isVisible('#login'), false, 'the sign-in form is folded while on air');
    assert.equal(await page.isVisible('#signin-folded'), true);
    assert.match(await page.textContent('#signin-summary') ?? '', /alice · Test Radio/);
    for (const sel of ['#status', '#stop', '#go-live', '#elapsed', '#upload']) {
      const b = await onFirstScreen(page, sel);
      assert.ok(b.inside, `${sel} is on the first screen on air (${b.y}..${b.bottom} of ${PHONE.height})`);
    }
    await page.waitForSelector('#upload[data-health="good"]', { timeout: 3000 });
    await saveScreenshot(page, 'phone-on-air');

    await page.tap('#stop');
    assert.equal(await waitForState(page, ['ended', 'error'], 5000), 'ended');
    const after = await onFirstScreen(page, '#go-live');
    assert.ok(after.inside, 'Go live is on the first screen after the show');
    await saveScreenshot(page, 'phone-after');
  });

  it('Icecast killed while live: upload health and status change within 3 s; back on air after; Stop shows a summary and clears the figures', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(`${stack.baseUrl}/`);
    await page.waitForSelector('body[data-auth-mode="accounts"]', { timeout: 10000 });
    await fillLogin(page, stack.broadcaster.name, stack.broadcaster.password);
    const clickedAt = Date.now(); // the daemon's `since` comes after this
    await page.click('#go-live');
    assert.equal(await waitForState(page, ['live', 'error'], 15000), 'live');
    await waitForMount(stack.icecastUrl, stack.icecast!.adminPassword, '/live.ogg', 5000);
    const listener = listen(`${stack.icecastUrl}/live.ogg`);
    assert.equal(await listener.status, 200);
    await page.waitForFunction(() => Number(document.getElementById('listeners')!.textContent) >= 1, null, { timeout: 6000 });
    await page.waitForSelector('#upload[data-health="good"]', { timeout: 3000 });
    const good = await figures(page);
    assert.equal(good.audience, 'all');
    assert.equal(good.detail, '');

    const killedAt = Date.now();
    await stack.icecast!.kill();
    await page.waitForFunction(() => {
      const up = document.getElementById('upload')!.dataset['health'];
      const st = document.getElementById('status')!.dataset['audience'];
      return up !== 'good' && st === 'none';
    }, null, { timeout: 3000, polling: 50 });
    const noticedMs = Date.now() - killedAt;
    const down = await figures(page);
    assert.equal(down.health, 'held');
    assert.equal(down.upload, 'Not reaching listeners');
    assert.match(down.detail, /Listeners can't hear the show right now/);
    assert.match(down.text, /Icecast/);
    await saveScreenshot(page, 'desktop-icecast-down');
    listener.stop();

    await stack.icecast!.restart();
    await page.waitForFunction(() => document.getElementById('status')!.dataset['audience'] === 'all' &&
      document.getElementById('upload')!.dataset['health'] === 'good', null, { timeout: 10000, polling: 100 });
    const back = await figures(page);
    assert.equal(back.state, 'live');
    assert.equal(back.text, 'On air');
    assert.equal(back.detail, '');
    console.log(`      (the page said listeners can't hear ${noticedMs} ms after Icecast was killed)`);

    await page.click('#stop');
    assert.equal(await waitForState(page, ['ended', 'error'], 5000), 'ended');
    await page.waitForSelector('#summary', { state: 'visible', timeout: 2000 });
    const summary: Record<string, string | undefined> = await page.evaluate(() => ({ ...document.getElementById('summary')!.dataset, text: document.getElementById('summary-text')!.textContent ?? '' }));
    assert.equal(summary['reason'], 'stopped');
    const onAirMs = Date.now() - clickedAt;
    assert.ok(Number(summary['durationMs']) >= 1000 && Number(summary['durationMs']) <= onAirMs + 500, `summary length ${summary['durationMs']} ms (on air ${onAirMs} ms)`);
    assert.ok(Number(summary['peakListeners']) >= 1, `peak listeners ${summary['peakListeners']}`);
    assert.ok(Number(summary['bytes']) > 20_000, `data sent ${summary['bytes']}`);
    assert.match(summary['text'] ?? '', /^0:00:\d\d on air · 1 listener at most · [\d.]+ kB sent · ended because you pressed Stop\.$/);
    const cleared = await figures(page);
    assert.deepEqual([cleared.elapsed, cleared.listeners, cleared.sent, cleared.upload, cleared.health], ['–', '–', '–', '–', 'idle'],
      'live figures are cleared after the show');
    await saveScreenshot(page, 'desktop-after-show');
    // The Icecast this test restarted is this test's process: gone when it ends (the next test
    // needs none).
    await stack.icecast!.stop();
  });

  it(`plain http on a LAN name (${LAN_NAME}): sign-in form and stations load, the page says why capture needs https, nothing hangs on Loading…`, async () => {
    const page = await browser.newPage({ viewport: PHONE });
    const url = stack.baseUrl.replace('127.0.0.1', LAN_NAME);
    await page.goto(`${url}/`);
    assert.equal(await page.evaluate(() => (globalThis as unknown as { isSecureContext: boolean }).isSecureContext), false, 'not a secure context');
    await page.waitForSelector('body[data-auth-mode="accounts"]', { timeout: 5000 });
    assert.equal(await page.isVisible('#loading'), false, 'no "Loading…" left');
    assert.equal(await page.isVisible('#login'), true, 'the sign-in form is shown');
    const stations = await page.locator('#mount option').allTextContents();
    assert.deepEqual(stations, ['Test Radio (live)', 'other']);
    assert.equal(await page.textContent('#mount-label'), 'Station');
    const error = await page.textContent('#error') ?? '';
    assert.match(error, /plain http:\/\/.*secure pages.*https:\/\//);
    assert.equal(await page.isDisabled('#go-live'), true, 'Go live is off: it could not capture');
    assert.equal(await page.isVisible('#recordings-card'), true, 'my recordings still work over http');
    await saveScreenshot(page, 'phone-plain-http');
  });
});
