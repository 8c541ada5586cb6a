// Shared steps of the Chromium tests: open the broadcaster page, log in, go live, stop. The browser
// itself comes from the one fixture (test/helpers/browser.ts). Each test file still owns its stack
// and its own checks.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { waitForMount, waitForMountGone } from '../helpers/listener.js';
import { probe } from '../helpers/media.js';
import { oggPages } from '../helpers/ogg-pages.js';
import type { Stack } from '../helpers/stack.js';

export { CHROMIUM_ARGS, launchChromium } from '../helpers/browser.js';

// Page-side code (page.evaluate) runs in the browser. The project's tsconfig has no DOM lib (it
// is for Node), so this module-local declaration stands in for the one browser global used here.
declare const document: {
  getElementById(id: string): { textContent: string | null; dataset: Record<string, string | undefined> } | null;
};

export interface OpenOptions {
  /** Runs in the page before its own scripts (playwright's addInitScript). */
  initScript?: () => void;
  /** Open the page in this context (default: a new context of its own). */
  context?: BrowserContext;
}

/** The broadcaster page, loaded in accounts mode. */
export async function openBroadcaster(browser: Browser, stack: Stack, opts: OpenOptions = {}): Promise<Page> {
  const page = opts.context !== undefined
    ? await opts.context.newPage()
    : await browser.newPage({ viewport: { width: 1000, height: 800 } });
  if (opts.initScript !== undefined) await page.addInitScript(opts.initScript);
  await page.goto(`${stack.baseUrl}/`);
  await page.waitForSelector('body[data-auth-mode="accounts"]', { timeout: 10000 });
  return page;
}

export async function fillLogin(page: Page, user: string, password: string, mount = 'live'): Promise<void> {
  await page.fill('#user', user);
  await page.fill('#password', password);
  await page.selectOption('#mount', mount);
}

export interface PageState { state: string; button: string; text: string; error: string }

export async function pageState(page: Page): Promise<PageState> {
  return page.evaluate(() => ({
    state: document.getElementById('status')!.dataset['state'] ?? '',
    button: document.getElementById('go-live')!.textContent ?? '',
    text: document.getElementById('status-text')!.textContent ?? '',
    error: document.getElementById('error')!.textContent ?? '',
  }));
}

/** Wait for #status to reach one of `states`; on timeout, say what the page showed. */
export async function waitForState(page: Page, states: string[], timeoutMs: number): Promise<string> {
  try {
    await page.waitForFunction((want) => want.includes(document.getElementById('status')!.dataset['state'] ?? ''), states, { timeout: timeoutMs, polling: 50 });
  } catch (err) {
    throw new Error(`page did not reach ${states.join('|')}: ${JSON.stringify(await pageState(page))}`, { cause: err });
  }
  return (await pageState(page)).state;
}

/**
 * Open the broadcaster page as the stack's broadcaster (alice), go live on station mount "live"
 * and wait until Icecast has every one of `mounts`.
 */
export async function goLive(browser: Browser, stack: Stack, mounts: string[] = ['/live.ogg'], opts: OpenOptions = {}): Promise<Page> {
  const page = await openBroadcaster(browser, stack, opts);
  await fillLogin(page, stack.broadcaster.name, stack.broadcaster.password);
  await page.click('#go-live');
  assert.equal(await waitForState(page, ['live', 'error'], 15000), 'live');
  for (const m of mounts) await waitForMount(stack.icecastUrl, stack.icecast!.adminPassword, m, 5000);
  return page;
}

/** Press Stop; the mount leaves Icecast within 2 s and the page is off air with no error. */
export async function stopAndWaitOffAir(page: Page, stack: Stack, mount: string): Promise<void> {
  await page.click('#stop');
  const goneMs = await waitForMountGone(stack.icecastUrl, stack.icecast!.adminPassword, mount, 5000);
  assert.ok(goneMs <= 2000, `Icecast mount ${mount} gone ${goneMs} ms after Stop`);
  await waitForState(page, ['ended'], 5000);
  const s = await pageState(page);
  assert.equal(s.button, 'Go live');
  assert.equal(s.text, 'Off air');
  assert.equal(s.error, '', 'no error after a normal stop');
}

/**
 * Seconds of Opus audio in an Ogg capture that may hold several chains (each "now playing"
 * update starts one on Ogg/Opus mounts). ffprobe restarts the timestamps at each chain, so the
 * first-to-last packet span of the whole capture undercounts: probe each chain and add them up.
 */
export async function chainedOpusSeconds(buf: Buffer): Promise<number> {
  const starts = oggPages(buf).filter((p) => p.bos).map((p) => p.offset);
  let total = 0;
  for (let i = 0; i < starts.length; i++) total += (await probe(buf.subarray(starts[i], starts[i + 1] ?? buf.length))).audioSeconds;
  return total;
}

/**
 * Where browser tests put the pictures they take (`ICEWIRE_TEST_OUTPUT`, default `test-output/`
 * in the working directory); the path is printed so a person reading the run can open it.
 */
export async function saveScreenshot(page: Page, name: string, opts: { fullPage?: boolean } = {}): Promise<string> {
  const dir = join(process.env.ICEWIRE_TEST_OUTPUT ?? 'test-output', 'screenshots');
  mkdirSync(dir, { recursive: true });
  const path = resolve(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: opts.fullPage ?? false });
  console.log(`      screenshot: ${path}`);
  return path;
}
