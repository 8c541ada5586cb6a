// Every listener can play: the listen page in Debian's Chromium against a real icecast2 and the
// daemon, with a webcast client on air (Ogg/Opus and MP3 renditions). A browser without Ogg/Opus
// (as Safari before 18.4: canPlayType says "") plays the MP3 rendition; a browser that can play
// nothing is told so plainly; an unknown station lists the ones there are; and while Icecast is
// down the page says the broadcast is reconnecting, then plays again by itself.
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { waitFor, waitForMount } from '../helpers/listener.js';
import { fixture } from '../helpers/media.js';
import { childFfmpegPids, startStack, type Stack } from '../helpers/stack.js';
import { afterThisTest } from '../helpers/teardown.js';
import { WebcastClient } from '../helpers/webcast-client.js';
import { launchChromium } from './browser-helpers.js';

// Page-side code runs in the browser; the project's tsconfig has no DOM lib.
interface PagePlayer { paused: boolean; currentTime: number; src: string; dataset: Record<string, string | undefined> }
interface PageGlobals {
  document: {
    getElementById(id: string): (PagePlayer & { textContent: string | null }) | null;
    addEventListener(type: string, fn: () => void): void;
  };
  MutationObserver: new (fn: () => void) => { observe(node: unknown, opts: Record<string, unknown>): void };
  HTMLMediaElement: { prototype: { canPlayType(type: string): string } };
  __messages?: string[];
}

/** Installs before the page's scripts: canPlayType answers "" for Ogg/Opus, as Safari before 18.4. */
function noOggOpus(): void {
  const g = globalThis as unknown as PageGlobals;
  const real = g.HTMLMediaElement.prototype.canPlayType;
  g.HTMLMediaElement.prototype.canPlayType = function (this: unknown, type: string): string {
    return /ogg|opus/i.test(type) ? '' : real.call(this, type);
  };
}

/** …and a browser that plays none of the station's formats. */
function playsNothing(): void {
  (globalThis as unknown as PageGlobals).HTMLMediaElement.prototype.canPlayType = () => '';
}

/** Keeps every sentence #message shows, in order, in window.__messages. */
function recordMessages(): void {
  const g = globalThis as unknown as PageGlobals;
  g.__messages = [];
  g.document.addEventListener('DOMContentLoaded', () => {
    const m = g.document.getElementById('message')!;
    const note = (): void => {
      const t = m.textContent ?? '';
      if (g.__messages!.at(-1) !== t) g.__messages!.push(t);
    };
    note();
    new g.MutationObserver(note).observe(m, { childList: true, characterData: true, subtree: true });
  });
}

async function player(page: Page): Promise<{ rendition: string; src: string; paused: boolean; time: number }> {
  return page.evaluate(() => {
    const p = (globalThis as unknown as PageGlobals).document.getElementById('player')!;
    return { rendition: p.dataset['rendition'] ?? '', src: p.src, paused: p.paused, time: p.currentTime };
  });
}

const message = (page: Page): Promise<string> => page.textContent('#message').then((t) => t ?? '');

describe('listen page: every listener can play (Chromium)', function () {
  this.timeout(90000);
  let stack: Stack;
  let browser: Browser;
  let client: WebcastClient;

  before(async () => {
    stack = await startStack({ renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }, { mount: '/live.mp3', format: 'mp3', bitrate: 64 }] });
    browser = await launchChromium();
    client = new WebcastClient(`${stack.wsBase}live`);
    await client.opened;
    client.hello({ mime: 'audio/webm;codecs=opus', user: stack.broadcaster.name, password: stack.broadcaster.password });
    void client.stream(await fixture('audio-webm', 80), { seconds: 80 });
    await client.live();
    await waitForMount(stack.icecastUrl, stack.icecast!.adminPassword, '/live.mp3');
  });
  after(async () => {
    client?.close(1000);
    await browser?.close();
    await stack?.stop();
    await waitFor('no ffmpeg left', () => childFfmpegPids().length === 0, 5000);
  });

  async function open(path: string, init: (() => void)[]): Promise<Page> {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    for (const s of init) await page.addInitScript(s);
    await page.goto(`${stack.baseUrl}${path}`);
    return page;
  }

  it('a browser whose canPlayType("audio/ogg; codecs=opus") is "" plays the MP3 rendition', async () => {
    const page = await open('/listen/live', [noOggOpus]);
    try {
      assert.equal(await page.evaluate(() => (globalThis as unknown as { document: { createElement(t: string): { canPlayType(t: string): string } } }).document.createElement('audio').canPlayType('audio/ogg; codecs=opus')), '');
      await page.waitForFunction(() => {
        const p = (globalThis as unknown as PageGlobals).document.getElementById('player')!;
        return !p.paused && p.currentTime > 1.5;
      }, null, { timeout: 20000 });
      const p = await player(page);
      assert.equal(p.rendition, '/live.mp3');
      assert.equal(p.src, `${stack.icecastUrl}/live.mp3`);
      assert.equal(await page.inputValue('#rendition'), '/live.mp3');
      const ogg = await page.$eval('#rendition option[value="/live.ogg"]', (o) => ({ disabled: (o as unknown as { disabled: boolean }).disabled, text: o.textContent }));
      assert.deepEqual(ogg, { disabled: true, text: 'Opus (Ogg) · /live.ogg (not playable in this browser)' });
      console.log(`      (played ${p.time.toFixed(1)} s of ${p.rendition})`);
    } finally {
      await page.context().close();
    }
  });

  it('a browser that can play none of the streams is told so plainly, with the stream addresses', async () => {
    const page = await open('/listen/live', [playsNothing]);
    try {
      await page.waitForFunction(() => /cannot play/.test((globalThis as unknown as PageGlobals).document.getElementById('message')!.textContent ?? ''), null, { timeout: 10000 });
      const m = await message(page);
      assert.match(m, /^This browser cannot play this station's streams \(Opus \(Ogg\), MP3\)\. Open this page in another browser/);
      assert.ok(m.includes(`${stack.icecastUrl}/live.mp3`), m);
      assert.equal((await player(page)).rendition, '', 'nothing is playing');
      assert.equal(await page.getAttribute('#onair', 'data-state'), 'on', 'the station is on air all the same');
    } finally {
      await page.context().close();
    }
  });

  it('an unknown station lists the stations there are, as links', async () => {
    const page = await open('/listen/nope', []);
    try {
      await page.waitForSelector('#stations:not([hidden]) li', { timeout: 10000 });
      assert.match(await message(page), /There is no station called “nope” here\. These are the stations you can listen to:/);
      const links = await page.$$eval('#stations a', (as) => as.map((a) => ({ href: a.getAttribute('href'), text: a.textContent })));
      assert.deepEqual(links, [{ href: '/listen/live', text: 'Test Radio (live)' }, { href: '/listen/other', text: 'other' }]);
      await page.click('#stations a[href="/listen/live"]');
      await page.waitForSelector('#onair[data-state="on"]', { timeout: 10000 });
    } finally {
      await page.context().close();
    }
  });

  it('while Icecast is down the page says the broadcast is reconnecting (never "dropped"), then plays again by itself', async () => {
    const page = await open('/listen/live', [recordMessages]);
    try {
      await page.waitForFunction(() => {
        const p = (globalThis as unknown as PageGlobals).document.getElementById('player')!;
        return !p.paused && p.currentTime > 1;
      }, null, { timeout: 20000 });
      const killedAt = Date.now();
      await stack.icecast!.kill();
      await page.waitForFunction(() => /reconnecting/.test((globalThis as unknown as PageGlobals).document.getElementById('message')!.textContent ?? ''), null, { timeout: 10000 });
      const saidMs = Date.now() - killedAt;
      assert.equal(await page.getAttribute('#onair', 'data-state'), 'on', 'still on air: the show goes on');
      await new Promise((r) => setTimeout(r, 4000)); // more status polls while Icecast is down
      assert.match(await message(page), /reconnecting/);
      await stack.icecast!.restart();
      // an Icecast started inside a test is gone when the test ends (test/helpers/teardown.ts);
      // this is the suite's last test, and after() stops the stack, which stops nothing twice
      afterThisTest(() => stack.icecast!.kill());
      await page.waitForFunction(() => {
        const p = (globalThis as unknown as PageGlobals).document.getElementById('player')!;
        return p.dataset['rendition'] !== undefined && !p.paused && p.currentTime > 1;
      }, null, { timeout: 30000 });
      const messages = await page.evaluate(() => (globalThis as unknown as PageGlobals).__messages ?? []);
      assert.deepEqual(messages.filter((m) => /dropped|stopped/i.test(m)), [], `messages: ${JSON.stringify(messages)}`);
      console.log(`      (said "reconnecting" ${saidMs} ms after Icecast went down; messages: ${messages.map((m) => JSON.stringify(m)).join(' → ')})`);
    } finally {
      await page.context().close();
    }
  });
});
