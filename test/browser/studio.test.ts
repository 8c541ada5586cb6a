// The studio in the real page (Debian's Chromium, fake microphone) against a real icecast2 and the
// daemon, proven by decoding what an Icecast listener got: a deck's tone and the microphone on air
// together, talk-over ducking depth and recovery, tags to "now playing" on the MP3 rendition, the
// limiter against a +12 dB square, a microphone switch and mute inside one Ogg stream, the studio
// on a desktop and a phone (screenshots in test-output/screenshots/).
//
// The microphone is Chromium's fake device playing a steady 400 Hz tone from a file
// (--use-file-for-fake-audio-capture), so what the mic puts on air is a known level. Its built-in
// beep (every 0.5 s, harmonics, a DC step) reached the listener anywhere from -25 to -59 dBFS at
// 400 Hz from one run to the next. The decks' test tones are 1000 and 2500 Hz, clear of it.
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { listen, waitFor, waitForMount } from '../helpers/listener.js';
import { childFfmpegPids, startStack, type Stack } from '../helpers/stack.js';
import { granuleBreaks, oggPages as oggPagesOf } from '../helpers/ogg-pages.js';
import { decodePcm, makeAudioFile, median, peakDb, toneLevels } from './audio-analysis.js';
import { fillLogin, launchChromium, saveScreenshot, waitForState } from './browser-helpers.js';

// Page-side code runs in the browser; these stand in for the browser globals it touches.
interface PageNode { value: string; dataset: Record<string, string | undefined>; textContent: string | null; dispatchEvent(e: unknown): boolean; getAttribute(n: string): string | null }
declare const document: { getElementById(id: string): PageNode | null; documentElement: { scrollWidth: number } };
declare const Event: new (type: string, init?: { bubbles?: boolean }) => unknown;
declare const window: { __sockets?: number; WebSocket: new (...a: unknown[]) => unknown };

const MIC_HZ = 400;
const DECK_HZ = 1000;
const TAGGED_HZ = 2500;
const SQUARE_HZ = 220;
/**
 * The deck tone's level in the file, per channel: lavfi's sine is -18 dBFS, +6 dB, and ffmpeg's
 * mono-to-stereo upmix puts a centre channel on each side at -3 dB.
 */
const TONE_DB = -15;
/** The fake microphone's file: lavfi's sine (-18 dBFS) upmixed the same way, -21 dBFS a side. */
const MIC_DB = -21;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Set a range or number input the way a person's drag or typing does (input and change events). */
async function setInput(page: Page, selector: string, value: number): Promise<void> {
  await page.$eval(selector, (e, v) => {
    const el = e as unknown as PageNode;
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}

async function micOpen(page: Page): Promise<boolean> {
  return (await page.getAttribute('#mic-on', 'aria-pressed')) === 'true';
}

/** Icecast's now-playing title of a mount (status-json), '' when none. */
async function icecastTitle(stack: Stack, mount: string): Promise<string> {
  const j = await (await fetch(`${stack.icecastUrl}/status-json.xsl`)).json() as { icestats: { source?: unknown } };
  const src = j.icestats.source;
  const list = (Array.isArray(src) ? src : src !== undefined ? [src] : []) as { listenurl?: string; title?: string }[];
  return list.find((s) => s.listenurl?.endsWith(mount))?.title ?? '';
}

describe('studio in the page (Chromium): mixing proven on the listener side', function () {
  this.timeout(90000);
  let browser: Browser;
  let stack: Stack;
  const files: Record<string, string> = {};

  before(async () => {
    // Every fake microphone plays this on a loop: 400 Hz, a whole number of cycles (no click at
    // the loop).
    files['mic'] = await makeAudioFile('mic-400.wav', `sine=frequency=${MIC_HZ}:sample_rate=48000:duration=10`); // MIC_DB a side
    browser = await launchChromium([`--use-file-for-fake-audio-capture=${files['mic']}`]);
    stack = await startStack({ renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }, { mount: '/live.mp3', format: 'mp3', bitrate: 128 }] });
    files['tone'] = await makeAudioFile('tone-1k.flac', `sine=frequency=${DECK_HZ}:sample_rate=48000:duration=40`, { title: 'Calibration', artist: 'Studio' }, 'volume=6dB'); // -15 dBFS a side (see TONE_DB)
    files['tagged'] = await makeAudioFile('evening-tone.mp3', `sine=frequency=${TAGGED_HZ}:sample_rate=48000:duration=20`, { title: 'Evening Tone', artist: 'Test Signals' });
    // A full-scale square (every sample ±1), played at +12 dB: 16 times over full scale.
    files['square'] = await makeAudioFile('square-220.wav', `aevalsrc=if(gte(sin(2*PI*${SQUARE_HZ}*t)\\,0)\\,1\\,-1):s=48000:d=20`);
    files['jingle'] = await makeAudioFile('Station - Ident.ogg', 'sine=frequency=3000:sample_rate=48000:duration=2', {}, 'volume=6dB');
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
    assert.deepEqual(childFfmpegPids(), [], 'no ffmpeg is left behind');
  });
  afterEach(async () => {
    // A closed tab is a drop the daemon waits out (so a reload can resume): stop what a failed
    // test left on air, so the next one finds the station free.
    for (const ctx of browser.contexts()) {
      for (const page of ctx.pages()) {
        if (await page.isVisible('#stop').catch(() => false)) {
          await page.click('#stop').catch(() => undefined);
          await waitForState(page, ['ended', 'error'], 8000).catch(() => undefined);
        }
      }
      await ctx.close();
    }
  });

  async function onAir(opts: { viewport?: { width: number; height: number }; init?: () => void } = {}): Promise<Page> {
    const page = await browser.newPage({ viewport: opts.viewport ?? { width: 1400, height: 1000 } });
    if (opts.init) await page.addInitScript(opts.init);
    await page.goto(`${stack.baseUrl}/`);
    await page.waitForSelector('body[data-auth-mode="accounts"]', { timeout: 10000 });
    await page.waitForSelector('#studio[data-ready="true"]', { timeout: 10000 });
    await fillLogin(page, stack.broadcaster.name, stack.broadcaster.password);
    await page.click('#go-live');
    assert.equal(await waitForState(page, ['live', 'error'], 15000), 'live');
    await waitForMount(stack.icecastUrl, stack.icecast!.adminPassword, '/live.ogg', 5000);
    assert.equal(await page.getAttribute('#studio', 'data-limiter'), 'true-peak');
    return page;
  }

  async function stop(page: Page): Promise<void> {
    await page.click('#stop');
    assert.equal(await waitForState(page, ['ended', 'error'], 8000), 'ended');
  }

  it('a deck\'s tone and the mic are both on air; the open mic ducks the music by the depth (±2 dB), and it recovers', async () => {
    const page = await onAir();
    await page.uncheck('#auto-now-playing');
    await setInput(page, '#mic-gain', -12); // the fake mic peaks at full scale: keep the sum under the limiter
    await page.keyboard.press('KeyM');
    assert.equal(await micOpen(page), false, 'M closes the mic');
    await page.setInputFiles('#deck-a-files', files['tone']!);
    await page.waitForFunction(() => document.getElementById('deck-a-title')!.textContent === 'Calibration', null, { timeout: 5000 });
    await page.keyboard.press('Shift+ArrowLeft');
    assert.equal(await page.inputValue('#xfade'), '-100');
    await page.keyboard.press('KeyZ');
    await page.waitForSelector('#deck-a[data-playing="true"]', { timeout: 5000 });
    await page.waitForFunction(() => Number(document.getElementById('meter-deck-a')!.dataset['peakDb']) > -20, null, { timeout: 5000 })
      .catch(async (err: unknown) => { throw new Error(`deck A meter ${await page.getAttribute('#meter-deck-a', 'data-peak-db')} xfade ${await page.inputValue('#xfade')}`, { cause: err }); });

    const rec = listen(`${stack.icecastUrl}/live.ogg`);
    assert.equal(await rec.status, 200);
    await sleep(4000);
    await page.keyboard.press('KeyM'); // mic on: talk-over
    assert.equal(await micOpen(page), true);
    await sleep(4000);
    await page.keyboard.press('KeyM'); // mic off: the music comes back
    await sleep(4000);
    rec.stop();
    await stop(page);

    const pcm = await decodePcm(await rec.done);
    const tone = toneLevels(pcm, DECK_HZ);
    const mic = toneLevels(pcm, MIC_HZ);
    const present = tone.findIndex((l) => l > -30);
    assert.ok(present >= 0, `the deck's ${DECK_HZ} Hz tone reached the listener: ${tone.map((l) => l.toFixed(0)).join(' ')}`);
    const full = median(tone.slice(present + 2, present + 15));
    const down = tone.findIndex((l, i) => i > present && l < full - 6 && (tone[i + 1] ?? 0) < full - 6);
    assert.ok(down > 0, `the music ducked: ${tone.map((l) => l.toFixed(0)).join(' ')}`);
    const up = tone.findIndex((l, i) => i > down + 5 && l > full - 6);
    assert.ok(up > down, 'the music came back');
    const before = median(tone.slice(Math.max(present, down - 20), down - 2));
    const ducked = median(tone.slice(down + 5, up - 2));
    const after = median(tone.slice(up + 12, up + 25));
    const micWhileOpen = median(mic.slice(down + 5, up - 2));
    const micWhileClosed = Math.max(...mic.slice(Math.max(present, down - 20), down - 3));
    console.log(`      (tone ${before.toFixed(1)} dBFS, ducked ${ducked.toFixed(1)}, after ${after.toFixed(1)}; mic at ${MIC_HZ} Hz open ${micWhileOpen.toFixed(1)}, closed ${micWhileClosed.toFixed(1)})`);
    assert.ok(Math.abs(before - TONE_DB) <= 2, `the deck's level on air: ${before.toFixed(1)} dBFS (the file is ${TONE_DB}, the deck at unity)`);
    assert.ok(Math.abs(before - ducked - 12) <= 2, `ducked by ${(before - ducked).toFixed(1)} dB (depth 12 dB)`);
    assert.ok(Math.abs(after - before) <= 2, `recovered to ${after.toFixed(1)} dBFS after release (was ${before.toFixed(1)})`);
    // The mic's steady tone through its -12 dB fader, unducked and unprocessed (the Music preset);
    // with the mic closed there is nothing there but the codec's noise floor.
    assert.ok(Math.abs(micWhileOpen - (MIC_DB - 12)) <= 2, `the mic is on air with the music at its fader's level: ${micWhileOpen.toFixed(1)} dBFS at ${MIC_HZ} Hz (the file is ${MIC_DB}, the fader -12 dB)`);
    assert.ok(micWhileClosed < -80, `the closed mic is not (${micWhileClosed.toFixed(1)} dBFS)`);
  });

  it('a deck going to air with a tagged MP3: now playing on the MP3 rendition within 3 s; a cart pad fires', async () => {
    const page = await onAir();
    await page.setInputFiles('#deck-b-files', files['tagged']!);
    await page.waitForFunction(() => document.getElementById('deck-b-title')!.textContent === 'Evening Tone' &&
      document.getElementById('deck-b-artist')!.textContent === 'Test Signals', null, { timeout: 5000 });
    await page.setInputFiles('#pad-0-file', files['jingle']!);
    await page.waitForSelector('#pad-0[data-loaded="true"]', { timeout: 5000 });
    assert.equal(await page.textContent('#pad-0 .pad-label'), 'Ident', 'the pad is named from the file');
    await page.keyboard.press('Shift+ArrowRight');
    const t0 = Date.now();
    await page.keyboard.press('KeyX');
    const title = await waitFor('the title on /live.mp3', async () => {
      const t = await icecastTitle(stack, '/live.mp3');
      return t.includes('Evening Tone') ? t : undefined;
    }, 3000, 100);
    const ms = Date.now() - t0;
    assert.equal(title, 'Test Signals - Evening Tone');
    const api = await (await fetch(`${stack.baseUrl}/api/status/live`)).json() as { title: string };
    assert.equal(api.title, 'Test Signals - Evening Tone');
    assert.match(await page.textContent('#meta-result') ?? '', /Sent from the deck: Evening Tone — Test Signals/);
    console.log(`      (now playing on /live.mp3 ${ms} ms after the deck went to air)`);

    await page.keyboard.press('Digit1');
    await page.waitForSelector('#pad-0[data-playing="true"]', { timeout: 2000 });
    await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
    // The README's picture (docs/screenshot.png is a copy of this one).
    await saveScreenshot(page, 'studio-desktop');
    await page.waitForFunction(() => Number(document.getElementById('meter-cart')!.dataset['peakDb']) > -40, null, { timeout: 3000 });
    await page.waitForSelector('#pad-0[data-playing="false"]', { timeout: 5000 }); // a 2 s one-shot ends by itself
    await stop(page);
  });

  it('a +12 dB full-scale square into the master: the listener\'s decoded audio peaks at or under -1 dBFS', async () => {
    const page = await onAir();
    await page.uncheck('#auto-now-playing');
    await page.keyboard.press('KeyM'); // mic off: only the square
    await page.setInputFiles('#deck-a-files', files['square']!);
    await page.waitForSelector('#deck-a[data-loaded="true"]');
    await setInput(page, '#deck-a-gain', 12);
    await page.keyboard.press('Shift+ArrowLeft');
    await page.keyboard.press('KeyZ');
    await page.waitForSelector('#deck-a[data-playing="true"]', { timeout: 5000 });
    await page.waitForFunction(() => Number(document.getElementById('limiter-gr')!.dataset['db']) < -6, null, { timeout: 5000 });
    const rec = listen(`${stack.icecastUrl}/live.ogg`, { maxMs: 5000 });
    assert.equal(await rec.status, 200);
    const got = await rec.done;
    const master = Number(await page.getAttribute('#level', 'data-peak-db'));
    await stop(page);
    const pcm = await decodePcm(got);
    const loud = toneLevels(pcm, SQUARE_HZ).filter((l) => l > -20).length;
    assert.ok(loud > 20, 'the square is on air');
    const peak = peakDb(pcm);
    console.log(`      (listener peak ${peak.toFixed(2)} dBFS; master meter ${master} dBFS)`);
    assert.ok(peak <= -1, `the listener's peak is ${peak.toFixed(2)} dBFS`);
    assert.ok(peak > -6, 'limited, not silenced');
  });

  it('switching the microphone and muting mid-show: one WebSocket, one recording, the listener gets one Ogg stream without gaps', async () => {
    const page = await onAir({
      init: () => {
        const w = window;
        const Native = w.WebSocket;
        w.__sockets = 0;
        w.WebSocket = class extends (Native as unknown as new (...a: unknown[]) => object) {
          constructor(...a: unknown[]) { super(...a); w.__sockets = (w.__sockets ?? 0) + 1; }
        } as unknown as typeof w.WebSocket;
      },
    });
    const rec = listen(`${stack.icecastUrl}/live.ogg`);
    assert.equal(await rec.status, 200);
    await sleep(1500);
    const options = await page.locator('#mic option').evaluateAll((os) => os.map((o) => (o as unknown as PageNode).value));
    const other = options.find((v) => v !== '' && v !== 'default' && v !== (options[1] ?? ''));
    assert.ok(other !== undefined, `a second microphone to switch to: ${options.join(',')}`);
    await page.selectOption('#mic', other);
    await page.waitForFunction((id) => document.getElementById('settings')!.textContent!.includes('Fake Audio Input'), other, { timeout: 5000 });
    await sleep(1000);
    await page.keyboard.press('KeyM');
    await sleep(800);
    await page.keyboard.press('KeyM');
    await page.keyboard.down('KeyC'); // cough
    await sleep(500);
    await page.keyboard.up('KeyC');
    assert.equal(await micOpen(page), true, 'the mic is back after the cough');
    await sleep(2500);
    assert.equal((await page.evaluate(() => window.__sockets)), 1, 'no new connection: the same recording throughout');
    assert.equal(await page.getAttribute('#status', 'data-state'), 'live');
    rec.stop();
    await stop(page);
    const got = await rec.done;
    const pages = oggPagesOf(got);
    assert.equal(pages.filter((p) => p.bos).length, 1, 'one BOS page: no new chain');
    assert.equal(new Set(pages.map((p) => p.serial)).size, 1, 'one serial number');
    const granules = pages.filter((p) => p.granule > 0n).map((p) => p.granule);
    const heardS = Number(granules[granules.length - 1]! - granules[0]!) / 48000;
    assert.ok(heardS > 5, `the listener got ${heardS.toFixed(1)} s of audio (${pages.length} Ogg pages)`);
    // no gap: every page's granule moves on by exactly the audio it carries (pages are as long as
    // the browser's chunks, 250 ms)
    assert.deepEqual(granuleBreaks(pages), [], 'the audio runs on without a gap through the switch, the mute and the cough');
    const mic = toneLevels(await decodePcm(got), MIC_HZ);
    assert.ok(Math.max(...mic.slice(-20)) > -60, `the new microphone is on air at the end (${Math.max(...mic.slice(-20)).toFixed(1)} dBFS at ${MIC_HZ} Hz)`);
  });

  // The page never keeps the password: the reloaded tab authenticates its resume hello with the
  // login token it got from POST /api/login when it went live.
  it('reloading the tab 5 s into a show: back on air within 3 s, the same broadcast, the listener on one stream; the decks and pads come back loaded', async () => {
    const page = await onAir();
    // What the host had loaded: a track and a queued one on deck A, a looped pad.
    await page.setInputFiles('#deck-a-files', [files['tone']!, files['tagged']!]);
    await page.setInputFiles('#pad-0-file', files['jingle']!);
    await page.check('#pad-0-loop');
    await page.waitForFunction(() => document.getElementById('deck-a-title')!.textContent === 'Calibration' &&
      document.getElementById('deck-a-queue')!.textContent!.includes('Evening Tone') && document.getElementById('pad-0')!.dataset['loop'] === 'true', null, { timeout: 5000 });
    const before = await (await fetch(`${stack.baseUrl}/api/status/live`)).json() as { since: string };
    const rec = listen(`${stack.icecastUrl}/live.ogg`);
    assert.equal(await rec.status, 200);
    await sleep(5000);
    page.on('dialog', (d) => void d.accept()); // "leave the page?" while on air
    const reloadAt = Date.now();
    await page.reload();
    await page.waitForSelector('#studio[data-ready="true"]', { timeout: 5000 });
    assert.equal(await waitForState(page, ['live', 'error', 'ended'], 3000), 'live');
    const backMs = Date.now() - reloadAt;
    assert.ok(backMs <= 3000, `back on air ${backMs} ms after the reload`);
    const after = await (await fetch(`${stack.baseUrl}/api/status/live`)).json() as { since: string };
    assert.equal(after.since, before.since, 'the same broadcast');
    assert.equal(await page.isVisible('#error'), false, 'no sentence: nothing went wrong');
    await page.waitForSelector('#studio[data-shelf="restored"]', { timeout: 5000 });
    assert.equal(await page.textContent('#deck-a-title'), 'Calibration', 'deck A has its track back');
    assert.match((await page.textContent('#deck-a-queue')) ?? '', /Evening Tone/, 'and its queue');
    assert.equal(await page.getAttribute('#deck-a', 'data-playing'), 'false', 'loaded, not playing');
    assert.equal(await page.getAttribute('#pad-0', 'data-loaded'), 'true', 'the pad has its file back');
    assert.equal(await page.isChecked('#pad-0-loop'), true, 'with its loop switch');
    assert.equal(await page.isVisible('#studio-note'), false, 'nothing to say: the shelf worked');
    const stored = await page.evaluate(() => JSON.stringify(Object.entries((globalThis as unknown as { sessionStorage: Record<string, string> }).sessionStorage)));
    assert.ok(!stored.includes(stack.broadcaster.password), 'no password in sessionStorage');
    await sleep(3000);
    assert.equal(rec.ended(), false, 'the listener stayed connected');
    rec.stop();
    await stop(page);
    const pages = oggPagesOf(await rec.done);
    assert.equal(pages.filter((p) => p.bos).length, 1, 'one BOS page: no new chain');
    assert.equal(new Set(pages.map((p) => p.serial)).size, 1, 'one serial number');
    console.log(`      (back on air ${backMs} ms after the reload)`);
  });

  it('phone 390×844: the essentials fit (status, Go live, mic, a deck, the pads) without sideways scrolling', async () => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const page = await ctx.newPage();
    await page.goto(`${stack.baseUrl}/`);
    await page.waitForSelector('#studio[data-ready="true"]', { timeout: 10000 });
    await fillLogin(page, stack.broadcaster.name, stack.broadcaster.password);
    await page.tap('#go-live');
    assert.equal(await waitForState(page, ['live', 'error'], 15000), 'live');
    await page.setInputFiles('#deck-a-files', files['tone']!);
    await page.setInputFiles('#pad-0-file', files['jingle']!);
    await page.waitForSelector('#pad-0[data-loaded="true"]');
    for (const sel of ['#status', '#stop']) {
      const b = (await page.locator(sel).boundingBox())!;
      assert.ok(b.y >= 0 && b.y + b.height <= 844, `${sel} on the first screen`);
    }
    for (const sel of ['#mic-on', '#deck-a-play', '#deck-a-files', '#pad-0 .pad-fire', '#pad-7 .pad-fire', '#xfade']) {
      const b = (await page.locator(sel).boundingBox())!;
      assert.ok(b.x >= 0 && b.x + b.width <= 390 && b.width >= 24 && b.height >= 24, `${sel} fits the phone and can be tapped: ${JSON.stringify(b)}`);
    }
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 390, 'no sideways scrolling');
    await saveScreenshot(page, 'studio-phone');
    await saveScreenshot(page, 'studio-phone-full', { fullPage: true });
    await stop(page);
  });
});
