// The one browser fixture: Debian's Chromium (playwright-core) or Firefox ESR (puppeteer-core over
// WebDriver BiDi) with fake media devices. A suite calls useChromium()/useFirefox() in its describe:
// the browser starts once for the suite and closes after it; every page or context a test opened is
// closed when the test ends (before the suite's own afterEach hooks that are declared later).
import { chromium, type Browser } from 'playwright-core';
import puppeteer, { type Browser as FirefoxBrowser } from 'puppeteer-core';

export const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
  '--autoplay-policy=no-user-gesture-required',
];

export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/**
 * Firefox ESR headless with a fake microphone and camera, allowed without asking, autoplay on.
 * `env` adds to the browser's environment (e.g. PULSE_SERVER for an audio output).
 */
export async function launchFirefox(env?: Record<string, string>): Promise<FirefoxBrowser> {
  return puppeteer.launch({
    ...(env !== undefined ? { env: { ...process.env, ...env } } : {}),
    browser: 'firefox',
    executablePath: '/usr/bin/firefox-esr',
    headless: true,
    extraPrefsFirefox: {
      'media.navigator.streams.fake': true,
      'media.navigator.permission.disabled': true,
      'media.autoplay.default': 0,
    },
  });
}

/** The suite's browser (valid inside tests and hooks, once the suite's `before` ran). */
export interface BrowserFixture<B> {
  readonly browser: B;
}

function useBrowser<B>(launch: () => Promise<B>, close: (b: B) => Promise<void>, closePages: (b: B) => Promise<void>): BrowserFixture<B> {
  let current: B | undefined;
  before(async function () {
    this.timeout(60000);
    current = await launch();
  });
  after(async () => {
    if (current !== undefined) await close(current);
    current = undefined;
  });
  afterEach(async () => {
    if (current !== undefined) await closePages(current);
  });
  return {
    get browser(): B {
      if (current === undefined) throw new Error('the browser is only there inside the suite (after its before hook)');
      return current;
    },
  };
}

/** A Chromium for this describe block. */
export function useChromium(extraArgs: string[] = []): BrowserFixture<Browser> {
  return useBrowser(() => launchChromium(extraArgs), (b) => b.close(), async (b) => {
    for (const ctx of b.contexts()) await ctx.close();
  });
}

/** A Firefox for this describe block; `env` is read when it starts (after earlier before hooks). */
export function useFirefox(env?: () => Record<string, string>): BrowserFixture<FirefoxBrowser> {
  return useBrowser(() => launchFirefox(env?.()), (b) => b.close(), async (b) => {
    for (const page of await b.pages()) await page.close();
  });
}
