// Station features seen from the pages, in Debian's Chromium against a real icecast2 and the
// daemon: "now playing" across an Ogg chain boundary, listener counts, a station manager ending a
// broadcast, the broadcaster's own recordings, and the listen page's stream choice and embed
// snippet. ICEWIRE_SCREENSHOT_DIR=<dir> also saves pictures of the listen page and the recordings.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { probe } from '../helpers/media.js';
import { listen, waitFor, waitForMountGone } from '../helpers/listener.js';
import { oggPages } from '../helpers/ogg-pages.js';
import { secret, startStack, type Stack, type StackOptions } from '../helpers/stack.js';
import { useChromium } from '../helpers/browser.js';
import { chainedOpusSeconds, fillLogin, goLive, pageState, stopAndWaitOffAir, waitForState } from './browser-helpers.js';
import { icyListen } from '../helpers/icy-listener.js';

// Page-side code (page.evaluate) runs in the browser; the project's tsconfig has no DOM lib.
interface PageMedia {
  paused: boolean;
  currentTime: number;
  src: string;
  buffered: { length: number; end(i: number): number };
  dataset: Record<string, string | undefined>;
  addEventListener(type: string, fn: () => void): void;
}
declare const document: { getElementById(id: string): (PageMedia & { textContent: string | null }) | null };
declare const window: { __events?: string[] };
declare const localStorage: Record<string, string>;
declare const sessionStorage: Record<string, string>;

const TWO_RENDITIONS: StackOptions['renditions'] = [
  { mount: '/live.ogg', format: 'ogg-opus' },
  { mount: '/live.mp3', format: 'mp3', bitrate: 128 },
];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


// ---- Icecast status-json (not always valid JSON in 2.4.4: docs/notes/icecast.md) ----------------------------

interface IceSource { listenurl: string; title?: string; listeners?: number }
async function icecastSources(icecastUrl: string): Promise<IceSource[] | undefined> {
  try {
    const j = JSON.parse(await (await fetch(`${icecastUrl}/status-json.xsl`)).text()) as { icestats: { source?: IceSource | IceSource[] } };
    return ([] as IceSource[]).concat(j.icestats.source ?? []);
  } catch {
    return undefined;
  }
}

async function sendNowPlaying(page: Page, title: string, artist: string): Promise<void> {
  await page.fill('#meta-title', title);
  await page.fill('#meta-artist', artist);
  await page.click('#meta-send');
  assert.match(await page.textContent('#meta-result') ?? '', /^Sent: /);
}

/** The listen page for station mount "live", in a context of its own, once its player plays. */
async function openListenPage(browser: Browser, s: Stack): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 800, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(`${s.baseUrl}/listen/live`);
  await page.waitForFunction(() => {
    const p = document.getElementById('player');
    return p !== null && !p.paused && p.currentTime > 0.5;
  }, null, { timeout: 15000, polling: 100 });
  // What happens to the player from now on (the page's own handlers react to the same events).
  await page.evaluate(() => {
    const events: string[] = [];
    window.__events = events;
    const p = document.getElementById('player')!;
    for (const t of ['ended', 'error', 'emptied']) p.addEventListener(t, () => events.push(t));
  });
  return page;
}

async function player(page: Page): Promise<{ src: string; rendition: string; paused: boolean; time: number; bufferedEnd: number; events: string[] }> {
  return page.evaluate(() => {
    const p = document.getElementById('player')!;
    return {
      src: p.src, rendition: p.dataset['rendition'] ?? '', paused: p.paused, time: p.currentTime,
      bufferedEnd: p.buffered.length > 0 ? p.buffered.end(p.buffered.length - 1) : 0, events: [...(window.__events ?? [])],
    };
  });
}

describe('station features in the pages (Chromium)', function () {
  this.timeout(60000);
  const chrome = useChromium();
  let stack: Stack | undefined;
  let recordingsDir: string | undefined;
  const shots = process.env.ICEWIRE_SCREENSHOT_DIR;

  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
    if (recordingsDir !== undefined) rmSync(recordingsDir, { recursive: true, force: true });
    recordingsDir = undefined;
  });

  it('now playing: ICY title for MP3, status-json, a new Ogg chain with OpusTags; Chromium plays on across the boundary', async () => {
    stack = await startStack({ renditions: TWO_RENDITIONS });
    const s = stack;
    const page = await goLive(chrome.browser, s, ['/live.ogg', '/live.mp3']);
    const listenPage = await openListenPage(chrome.browser, s);
    assert.equal((await player(listenPage)).rendition, '/live.ogg', 'the listen page plays the Ogg/Opus rendition');

    const icy = icyListen(`${s.icecastUrl}/live.mp3`);
    const ogg = listen(`${s.icecastUrl}/live.ogg`);
    assert.equal(await ogg.status, 200);
    assert.ok(await icy.metaint > 0, 'Icecast sends icy-metaint to an ICY-reading listener');
    await waitFor('Ogg listener data', () => ogg.bytes() > 4000, 5000);

    const before = await player(listenPage);
    await sendNowPlaying(page, 'Chain Reaction', 'The Testers');
    const changedAt = Date.now();

    const want = 'The Testers - Chain Reaction';
    await waitFor(`StreamTitle='${want}' (got ${JSON.stringify(icy.titles())})`, () => icy.titles().includes(want), 8000);
    await waitFor('the MP3 mount\'s title in status-json', async () => {
      const src = await icecastSources(s.icecastUrl);
      return src?.some((x) => new URL(x.listenurl).pathname === '/live.mp3' && x.title === want);
    }, 5000);

    // The boundary is at about the media time Chromium had received when the title changed; it
    // has to play on for 3 s past it, with the same source and no ended/error.
    const past = before.bufferedEnd + 3;
    try {
      await listenPage.waitForFunction((t) => {
        const p = document.getElementById('player')!;
        return !p.paused && p.currentTime >= t;
      }, past, { timeout: 15000, polling: 100 });
    } catch (err) {
      throw new Error(`the player did not play past ${past.toFixed(1)} s: ${JSON.stringify(await player(listenPage))}`, { cause: err });
    }
    const after = await player(listenPage);
    assert.deepEqual(after.events, [], 'no ended/error/emptied on the player');
    assert.equal(after.src, `${s.icecastUrl}/live.ogg`);
    assert.ok(after.time - before.time >= 3, `played ${(after.time - before.time).toFixed(1)} s (${Date.now() - changedAt} ms wall clock)`);
    assert.equal(await listenPage.textContent('#title'), want, 'the listen page shows the title');

    icy.stop();
    ogg.stop();
    const got = await ogg.done;
    const pages = oggPages(got);
    const bos = pages.map((p, i) => (p.bos ? i : -1)).filter((i) => i >= 0);
    assert.ok(bos.length >= 2, `a second chain began (${bos.length} BOS pages)`);
    const second = pages[bos[1]!]!;
    assert.notEqual(second.serial, pages[bos[0]!]!.serial, 'the new chain has its own serial number');
    assert.ok(second.body.subarray(0, 8).toString('latin1') === 'OpusHead', 'the new chain starts with OpusHead');
    const tags = pages.slice(bos[1]! + 1).find((p) => p.serial === second.serial);
    assert.ok(tags !== undefined && tags.body.subarray(0, 8).toString('latin1') === 'OpusTags', 'then OpusTags');
    assert.ok(tags.body.includes(Buffer.from('TITLE=Chain Reaction')), 'OpusTags has TITLE=');
    assert.ok(tags.body.includes(Buffer.from('ARTIST=The Testers')), 'OpusTags has ARTIST=');
    const first = pages.slice(bos[0]! + 1).find((p) => p.serial === pages[bos[0]!]!.serial && p.body.subarray(0, 8).toString('latin1') === 'OpusTags');
    assert.ok(first === undefined || !first.body.includes(Buffer.from('TITLE=Chain Reaction')), 'the first chain had no title yet');
    assert.ok(await chainedOpusSeconds(got) > 3, 'the capture is playable Opus on both sides of the boundary');

    await stopAndWaitOffAir(page, s, '/live.ogg');
  });

  it('listener count: two listeners on the mounts show as 2 on the broadcaster page', async () => {
    stack = await startStack({ renditions: TWO_RENDITIONS });
    const s = stack;
    const page = await goLive(chrome.browser, s, ['/live.ogg', '/live.mp3']);
    const a = listen(`${s.icecastUrl}/live.ogg`);
    const b = listen(`${s.icecastUrl}/live.mp3`);
    assert.equal(await a.status, 200);
    assert.equal(await b.status, 200);
    const t0 = Date.now();
    try {
      await page.waitForFunction(() => document.getElementById('listeners')!.textContent === '2', null, { timeout: 5000, polling: 100 });
    } catch (err) {
      throw new Error(`#listeners shows ${await page.textContent('#listeners')}`, { cause: err });
    }
    const shownMs = Date.now() - t0;
    assert.ok(shownMs <= 5000, `shown after ${shownMs} ms`);
    a.stop();
    b.stop();
    await stopAndWaitOffAir(page, s, '/live.ogg');
  });

  it('kick: the manager API ends the broadcast; the page shows the reason and is off air; a wrong token is 401', async () => {
    const token = secret();
    stack = await startStack({ config: { admin: { token } } });
    const s = stack;
    const page = await goLive(chrome.browser, s);
    const end = (bearer: string): Promise<Response> => fetch(`${s.baseUrl}/api/admin/broadcasts/live/end`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'News at the top of the hour' }),
    });
    const wrong = await end(`${token}x`);
    assert.equal(wrong.status, 401);
    assert.equal((await wrong.json() as { error: { code: string } }).error.code, 'IW_ERR_ADMIN_AUTH');
    assert.equal((await pageState(page)).state, 'live', 'a wrong token ends nothing');

    const res = await end(token);
    assert.equal(res.status, 200);
    assert.equal(await waitForState(page, ['error', 'ended'], 5000), 'error');
    const st = await pageState(page);
    assert.equal(st.error, 'The station ended your broadcast: News at the top of the hour');
    assert.equal(st.text, 'Not live');
    assert.equal(st.button, 'Go live');
    assert.equal(await page.isVisible('#stop'), false);
    assert.equal(await page.isEnabled('#go-live'), true);
    if (shots) await page.screenshot({ path: join(shots, 'kicked.png') });
    await waitForMountGone(s.icecastUrl, s.icecast!.adminPassword, '/live.ogg', 5000);
  });

  it('my recordings: the page lists alice\'s show and downloads it as Ogg/Opus; bob sees none of it', async () => {
    recordingsDir = mkdtempSync(join(tmpdir(), 'icewire-page-rec-'));
    stack = await startStack({ record: true, config: { recordings: { dir: recordingsDir, keepDays: 1 } } });
    const s = stack;
    const page = await goLive(chrome.browser, s);
    let token: string | undefined;
    page.on('response', (r) => {
      if (r.url().endsWith('/api/login') && r.ok()) void r.json().then((j: { token?: string }) => { token = j.token; }).catch(() => undefined);
    });
    // Opened while on air: the show being recorded is listed as such.
    await sleep(1000);
    await page.click('#recordings-show');
    await page.waitForSelector('#recordings-card[data-state="loaded"]', { timeout: 5000 });
    await page.waitForSelector('#recordings-list li.recording[data-state="recording"]', { timeout: 1000 });
    assert.match(await page.textContent('#recordings-list .recording-meta') ?? '', /still recording/);
    await sleep(3000);
    await stopAndWaitOffAir(page, s, '/live.ogg');

    // The open list refreshes by itself when the broadcast ends (the sidecar is finished a
    // moment after the end, so the page looks again until it is).
    await page.waitForSelector('#recordings-list li.recording[data-state="done"]', { timeout: 8000 });
    assert.equal(await page.textContent('#recordings-show'), 'Refresh');
    assert.equal(await page.locator('#recordings-list li.recording').count(), 1);
    const meta = await page.textContent('#recordings-list .recording-meta') ?? '';
    assert.match(meta, /^Test Radio · 0:00:0[3-6] · \d+(\.\d)? kB · audio$/, meta);
    assert.ok((await page.textContent('#recordings-list .recording-date') ?? '').length > 5, 'a date is shown');
    const name = await page.getAttribute('#recordings-list li.recording', 'data-name');
    assert.match(name ?? '', /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.ogg$/);
    if (shots) {
      await page.locator('#recordings-card').screenshot({ path: join(shots, 'recordings.png') });
      await page.screenshot({ path: join(shots, 'broadcaster-recordings.png'), fullPage: true });
    }

    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }), page.click('#recordings-list .recording-download')]);
    assert.equal(download.suggestedFilename(), `live-${name}`);
    const file = await download.path();
    const bytes = readFileSync(file);
    assert.equal(bytes.subarray(0, 4).toString('latin1'), 'OggS');
    const p = await probe(file);
    assert.deepEqual(p.streams.map((x) => x.codec), ['opus']);
    assert.ok(p.audioSeconds >= 3, `the recording has ${p.audioSeconds.toFixed(2)} s of Opus`);
    assert.equal(await page.isVisible('#recordings-error'), false);

    // The login token stays in memory only.
    assert.ok(token !== undefined && token.length > 20, 'the page logged in');
    const stored = await page.evaluate(() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)]));
    assert.ok(!stored.includes(token), 'the token is not in web storage');
    assert.ok(!stored.includes(s.broadcaster.password), 'nor the password');

    // A wrong password is a sentence, and no list is shown.
    await page.fill('#password', 'not-the-password');
    assert.equal(await page.isVisible('#recordings-list'), false, 'another password hides the list');
    await page.click('#recordings-show');
    await page.waitForSelector('#recordings-card[data-state="error"]', { timeout: 5000 });
    assert.match(await page.textContent('#recordings-error') ?? '', /Check your name and password/);

    // Bob logs in on the same page: none of alice's recordings.
    await fillLogin(page, s.other.name, s.other.password, 'other');
    await page.click('#recordings-show');
    await page.waitForSelector('#recordings-card[data-state="loaded"]', { timeout: 5000 });
    assert.equal(await page.locator('#recordings-list li.recording').count(), 0);
    assert.match(await page.textContent('#recordings-status') ?? '', /^No recordings yet/);
  });

  it('listen page: title, embed snippet for the playing stream, switching stream keeps playing', async () => {
    stack = await startStack({ renditions: TWO_RENDITIONS });
    const s = stack;
    const page = await goLive(chrome.browser, s, ['/live.ogg', '/live.mp3']);
    await sendNowPlaying(page, 'Evening Jazz', 'Studio B');
    const listenPage = await openListenPage(chrome.browser, s);
    await listenPage.waitForFunction(() => document.getElementById('title')!.textContent === 'Studio B - Evening Jazz', null, { timeout: 8000 });

    const oggUrl = `${s.icecastUrl}/live.ogg`;
    const mp3Url = `${s.icecastUrl}/live.mp3`;
    let pl = await player(listenPage);
    assert.equal(pl.src, oggUrl, 'the first playable rendition plays by default');
    assert.equal(await listenPage.inputValue('#rendition'), '/live.ogg');
    assert.equal(await listenPage.isVisible('#stream-choice'), true);
    assert.deepEqual(await listenPage.$$eval('#rendition option', (os) => os.map((o) => (o as unknown as { value: string }).value)), ['/live.ogg', '/live.mp3']);
    assert.equal(await listenPage.inputValue('#embed'), `<audio controls preload="none" src="${oggUrl}"></audio>`);
    assert.equal(await listenPage.getAttribute('#embed', 'readonly'), '');
    await listenPage.click('#embed-copy');
    await listenPage.waitForFunction(() => (document.getElementById('embed-result')!.textContent ?? '') !== '', null, { timeout: 3000 });
    if (shots) await listenPage.screenshot({ path: join(shots, 'listen.png'), fullPage: true });

    await listenPage.selectOption('#rendition', '/live.mp3');
    await listenPage.waitForFunction((u) => document.getElementById('player')!.src === u, mp3Url, { timeout: 3000 });
    pl = await player(listenPage);
    assert.equal(pl.rendition, '/live.mp3');
    assert.equal(await listenPage.inputValue('#embed'), `<audio controls preload="none" src="${mp3Url}"></audio>`);
    // Playback continues on the new stream: it plays and its clock runs.
    await listenPage.waitForFunction(() => {
      const p = document.getElementById('player')!;
      return !p.paused && p.currentTime > 1.5;
    }, null, { timeout: 10000, polling: 100 });
    const t1 = (await player(listenPage)).time;
    await sleep(1000);
    pl = await player(listenPage);
    assert.ok(pl.time > t1 + 0.5, `the MP3 stream plays on (${t1.toFixed(2)} -> ${pl.time.toFixed(2)})`);
    assert.equal(pl.paused, false);
    assert.equal(pl.src, mp3Url);
    assert.ok(!pl.events.includes('error') && !pl.events.includes('ended'), `no error/ended: ${pl.events.join(',')}`);
    assert.equal(await listenPage.getAttribute('#onair', 'data-state'), 'on');
    await stopAndWaitOffAir(page, s, '/live.ogg');
  });
});
