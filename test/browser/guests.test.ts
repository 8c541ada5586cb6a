// Guests on air by link, with the real things: two Debian Chromiums (the host's and the guest's,
// each with its own fake microphone playing a distinct tone file), the daemon, a real icecast2 and
// an Icecast listener whose capture is decoded. Proven by numbers: both tones on air (dB), the
// guest's return feed carrying the host but not the guest (mix-minus), and every refused link
// (used, withdrawn, expired, removed) a sentence on the guest page and a line in the log.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { listen, waitForMount } from '../helpers/listener.js';
import { childFfmpegPids, startStack, type Stack } from '../helpers/stack.js';
import { decodePcm, median, toneLevels } from './audio-analysis.js';
import { fillLogin, launchChromium, pageState, waitForState } from './browser-helpers.js';
import { useFirefox } from '../helpers/browser.js';
import { usePulseSink } from './pulse-sink.js';

const run = promisify(execFile);
const HOST_HZ = 500;
const GUEST_HZ = 1300;
/** Each fake microphone's tone: lavfi's sine is -18 dBFS, -9 dB on top (toneWav). */
const TONE_DB = -27;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Page-side code runs in the browser; these stand in for the browser globals it touches.
declare const document: { getElementById(id: string): { srcObject: unknown; dataset: Record<string, string | undefined> } | null };
declare class AudioContext {
  sampleRate: number;
  resume(): Promise<void>;
  createMediaStreamSource(s: unknown): { connect(n: unknown): void };
  createAnalyser(): { fftSize: number; frequencyBinCount: number; getFloatFrequencyData(a: Float32Array): void };
}

/** A mono 48 kHz WAV of a steady sine at -12 dBFS: what a fake microphone plays (looped). */
async function toneWav(dir: string, hz: number): Promise<string> {
  const path = join(dir, `tone-${hz}.wav`);
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=${hz}:sample_rate=48000:duration=30`, '-af', 'volume=-9dB', '-ac', '1', path]);
  return path;
}

/** Levels (dBFS, FFT peak near each frequency) of what the guest page plays back: its return feed. */
async function returnLevels(page: Page, freqs: number[]): Promise<number[]> {
  return page.evaluate(async (fs) => {
    const stream = document.getElementById('guest-return')!.srcObject;
    const ctx = new AudioContext();
    await ctx.resume();
    const an = ctx.createAnalyser();
    an.fftSize = 8192;
    ctx.createMediaStreamSource(stream).connect(an);
    const bins = new Float32Array(an.frequencyBinCount);
    const best = fs.map(() => -200);
    // the loudest of several looks (the analyser smooths over time: take its settled values)
    for (let k = 0; k < 10; k++) {
      await new Promise((r) => setTimeout(r, 150));
      an.getFloatFrequencyData(bins);
      fs.forEach((f, i) => {
        const c = Math.round((f / ctx.sampleRate) * an.fftSize);
        for (let b = c - 2; b <= c + 2; b++) best[i] = Math.max(best[i]!, bins[b] ?? -200);
      });
    }
    return best;
  }, freqs);
}

/** The host's page, logged in and live on station "live". */
async function hostLive(browser: Browser, stack: Stack): Promise<Page> {
  const host = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await host.goto(`${stack.baseUrl}/`);
  await host.waitForSelector('body[data-auth-mode="accounts"]', { timeout: 10000 });
  await host.waitForSelector('#studio[data-ready="true"]', { timeout: 10000 });
  await host.waitForSelector('#guests-card:not([hidden])', { timeout: 10000 });
  await fillLogin(host, stack.broadcaster.name, stack.broadcaster.password);
  await host.click('#go-live');
  assert.equal(await waitForState(host, ['live', 'error'], 15000), 'live', `the host went live: ${JSON.stringify(await pageState(host))}`);
  await waitForMount(stack.icecastUrl, stack.icecast!.adminPassword, '/live.ogg', 5000);
  return host;
}

/** The host invites (label); the link from the page's Guests card. */
async function inviteFrom(host: Page, label: string): Promise<string> {
  const before = await host.$$eval('input.invitation-link', (els) => els.length);
  await host.fill('#guest-label', label);
  await host.click('#guest-invite');
  await host.waitForFunction((n) => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('input.invitation-link').length > n, before, { timeout: 10000 });
  const links = await host.$$eval('input.invitation-link', (els) => els.map((e) => (e as unknown as { value: string }).value));
  return links[links.length - 1]!;
}

/** What the listener hears now, for `seconds`: the median level (dB) of each tone. */
async function onAirLevels(stack: Stack, seconds: number, freqs: number[]): Promise<number[]> {
  const rec = listen(`${stack.icecastUrl}/live.ogg`);
  assert.equal(await rec.status, 200);
  await sleep(seconds * 1000);
  rec.stop();
  const pcm = await decodePcm(await rec.done);
  return freqs.map((f) => median(toneLevels(pcm, f).slice(10)));
}

describe('guests on air by link (two Chromiums, distinct tones, a real Icecast listener)', function () {
  this.timeout(120000);
  let dir: string;
  let hostBrowser: Browser;
  let guestBrowser: Browser;
  let stack: Stack;
  let host: Page;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'icewire-test-guests-'));
    const [hostWav, guestWav] = await Promise.all([toneWav(dir, HOST_HZ), toneWav(dir, GUEST_HZ)]);
    hostBrowser = await launchChromium([`--use-file-for-fake-audio-capture=${hostWav}`]);
    guestBrowser = await launchChromium([`--use-file-for-fake-audio-capture=${guestWav}`]);
    stack = await startStack({ renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }] });
  });
  after(async () => {
    await hostBrowser?.close();
    await guestBrowser?.close();
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(childFfmpegPids(), [], 'no ffmpeg is left behind');
  });

  const invite = (label: string): Promise<string> => inviteFrom(host, label);

  /** A guest opens the link, names themself, joins. */
  async function guestJoins(link: string, name: string): Promise<Page> {
    const page = await guestBrowser.newPage();
    await page.goto(link);
    await page.fill('#guest-name', name);
    await page.check('#guest-headphones');
    await page.click('#guest-join');
    return page;
  }

  async function refusal(page: Page): Promise<{ code: string; text: string }> {
    await page.waitForSelector('#guest-status[data-state="error"]', { timeout: 10000 });
    return { code: (await page.getAttribute('#guest-error', 'data-code')) ?? '', text: (await page.textContent('#guest-error')) ?? '' };
  }

  it('host live, guest joins by link and is put on air: the listener hears both tones; the guest hears the host, not themself', async () => {
    host = await hostLive(hostBrowser, stack);

    const link = await invite('Sam');
    const url = new URL(link);
    assert.equal(url.pathname, '/guest/live');
    assert.match(url.hash, /^#[A-Za-z0-9_-]{40,}$/, 'the token is the fragment, and nothing else is in the link');
    assert.equal(url.search, '');
    for (const s of [stack.broadcaster.password]) assert.ok(!link.includes(s));

    const guest = await guestJoins(link, 'Sam Guest');
    await guest.waitForSelector('#guest-status[data-state="waiting"]', { timeout: 20000 });
    const strip = await host.waitForSelector('.guest-strip[data-link="connected"]', { timeout: 20000 });
    const id = (await strip.getAttribute('data-guest'))!;
    assert.equal(await host.textContent(`#guest-${id} .guest-name`), 'Sam Guest');
    // Off air by default: the guest is not in the stream until the host says so.
    const off = listen(`${stack.icecastUrl}/live.ogg`);
    await sleep(3000);
    off.stop();
    const offPcm = await decodePcm(await off.done);
    const offGuest = median(toneLevels(offPcm, GUEST_HZ).slice(5));

    await host.click(`#guest-${id} .guest-on-air`);
    await guest.waitForSelector('#guest-status[data-state="on-air"]', { timeout: 5000 });
    await host.waitForFunction((gid) => Number(document.getElementById(`meter-guest-${gid}`)?.dataset['peakDb']) > -40, id, { timeout: 5000 });
    await sleep(500);
    const rec = listen(`${stack.icecastUrl}/live.ogg`);
    assert.equal(await rec.status, 200);
    await sleep(5000);
    rec.stop();
    const [hostInReturn, guestInReturn] = await returnLevels(guest, [HOST_HZ, GUEST_HZ]);

    const pcm = await decodePcm(await rec.done);
    const hostLevels = toneLevels(pcm, HOST_HZ).slice(10);
    const guestLevels = toneLevels(pcm, GUEST_HZ).slice(10);
    const hostDb = median(hostLevels);
    const guestDb = median(guestLevels);
    console.log(`      listener: host ${HOST_HZ} Hz ${hostDb.toFixed(1)} dB, guest ${GUEST_HZ} Hz ${guestDb.toFixed(1)} dB (off air: ${offGuest.toFixed(1)} dB); guest's return: host ${hostInReturn!.toFixed(1)} dB, guest ${guestInReturn!.toFixed(1)} dB`);
    // Both at unity gain through the studio: each tone reaches the listener at its own level (±3 dB).
    assert.ok(Math.abs(hostDb - TONE_DB) < 3, `the host's ${HOST_HZ} Hz tone is on air at ${TONE_DB} dB: ${hostDb.toFixed(1)} dB`);
    assert.ok(Math.abs(guestDb - TONE_DB) < 3, `the guest's ${GUEST_HZ} Hz tone is on air at ${TONE_DB} dB: ${guestDb.toFixed(1)} dB`);
    assert.ok(offGuest < guestDb - 30, `off air, the guest was not in the stream: ${offGuest.toFixed(1)} dB vs ${guestDb.toFixed(1)} dB on air`);
    assert.ok(hostInReturn! > -45, `the guest hears the host: ${hostInReturn!.toFixed(1)} dB`);
    assert.ok(guestInReturn! < hostInReturn! - 30, `the guest does not hear themself: ${guestInReturn!.toFixed(1)} dB vs host ${hostInReturn!.toFixed(1)} dB`);

    // The guest's page reloads (or its tab is reopened): it comes back into the same channel,
    // on air, with no action from the host.
    const t0 = Date.now();
    await guest.reload();
    await guest.waitForSelector('#guest-status[data-state="on-air"]', { timeout: 10000 });
    await host.waitForSelector(`#guest-${id}[data-link="connected"]`, { timeout: 10000 });
    await host.waitForFunction((gid) => Number(document.getElementById(`meter-guest-${gid}`)?.dataset['peakDb']) > -40, id, { timeout: 10000 });
    const backMs = Date.now() - t0;
    const again = listen(`${stack.icecastUrl}/live.ogg`);
    await sleep(3000);
    again.stop();
    const againDb = median(toneLevels(await decodePcm(await again.done), GUEST_HZ).slice(10));
    console.log(`      after a reload the guest was back on air in ${backMs} ms; listener: guest ${againDb.toFixed(1)} dB`);
    assert.ok(backMs < 5000, `back on air within 5 s: ${backMs} ms`);
    assert.ok(Math.abs(againDb - TONE_DB) < 3, `the guest is on air again: ${againDb.toFixed(1)} dB`);
    assert.equal(await host.$$eval('.guest-strip', (els) => els.length), 1, 'the same channel, not a second one');

    // The same link again (forwarded to someone else): refused with a sentence.
    const second = await guestBrowser.newPage();
    await second.goto(link);
    await second.fill('#guest-name', 'Someone else');
    await second.click('#guest-join');
    const used = await refusal(second);
    assert.equal(used.code, 'IW_ERR_GUEST_TOKEN_USED');
    assert.match(used.text, /already been used/);
    await second.close();

    // The host takes the guest out: the guest's page says so, the strip goes.
    host.once('dialog', (d) => void d.accept());
    await host.click(`#guest-${id} .guest-remove`);
    const removed = await refusal(guest);
    assert.equal(removed.code, 'IW_ERR_GUEST_REMOVED');
    assert.match(removed.text, /taken you out of the show/);
    await host.waitForSelector(`#guest-${id}`, { state: 'detached', timeout: 5000 });
    await guest.close();
  });

  it('a withdrawn link and an expired link are refused with a sentence on the guest page and in the log', async () => {
    const withdrawn = await invite('Withdrawn');
    const li = host.locator('li.invitation').last();
    await li.locator('.invitation-withdraw').click();
    await host.waitForFunction(() => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('li.invitation').length === 0, null, { timeout: 5000 });
    const g1 = await guestJoins(withdrawn, 'Late');
    const r1 = await refusal(g1);
    assert.equal(r1.code, 'IW_ERR_GUEST_TOKEN_REVOKED');
    assert.match(r1.text, /withdrawn this invitation/);

    // Links last guests.invitationTtlMs: shorten it (as a config reload would) and let one lapse.
    stack.daemon.guests.setConfig({ ...stack.config, guests: { ...stack.config.guests, invitationTtlMs: 1000 } });
    const expiring = await invite('Too late');
    await sleep(1200);
    const g2 = await guestJoins(expiring, 'Later');
    const r2 = await refusal(g2);
    assert.equal(r2.code, 'IW_ERR_GUEST_TOKEN_EXPIRED');
    assert.match(r2.text, /expired/);
    stack.daemon.guests.setConfig(stack.config);

    // A link cut short: not a valid invitation.
    const g3 = await guestJoins(withdrawn.slice(0, -5), 'Typo');
    assert.equal((await refusal(g3)).code, 'IW_ERR_GUEST_TOKEN_UNKNOWN');

    const log = stack.logLines.join('\n');
    for (const code of ['IW_ERR_GUEST_TOKEN_USED', 'IW_ERR_GUEST_TOKEN_REVOKED', 'IW_ERR_GUEST_TOKEN_EXPIRED', 'IW_ERR_GUEST_TOKEN_UNKNOWN']) {
      assert.ok(log.includes(code), `the daemon's log names ${code}`);
    }
    // No invitation token ever reaches the log.
    for (const l of [withdrawn, expiring]) assert.ok(!log.includes(new URL(l).hash.slice(1)), 'tokens stay out of the log');
    await host.click('#stop');
    assert.equal(await waitForState(host, ['ended', 'error'], 8000), 'ended');
  });
});

describe('a Firefox ESR guest with a Chromium host', function () {
  this.timeout(120000);
  // Firefox's audio engine needs an output device: a private null sink, started before the browser.
  const pulse = usePulseSink();
  const firefox = useFirefox(() => pulse.env);
  /** Firefox's fake microphone: a steady 1 kHz sine (media.navigator.audio.fake_frequency). */
  const FIREFOX_HZ = 1000;
  let dir: string;
  let hostBrowser: Browser;
  let stack: Stack;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'icewire-test-guests-ff-'));
    hostBrowser = await launchChromium([`--use-file-for-fake-audio-capture=${await toneWav(dir, HOST_HZ)}`]);
    stack = await startStack({ renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }] });
  });
  after(async () => {
    await hostBrowser?.close();
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('joins by link, is put on air, and the listener hears the Firefox guest and the host', async () => {
    const host = await hostLive(hostBrowser, stack);
    const link = await inviteFrom(host, 'Firefox guest');
    const guest = await firefox.browser.newPage();
    await guest.goto(link);
    await guest.type('#guest-name', 'Fox');
    await guest.click('#guest-headphones');
    await guest.click('#guest-join');
    await guest.waitForSelector('#guest-status[data-state="waiting"]', { timeout: 20000 });
    const strip = await host.waitForSelector('.guest-strip[data-link="connected"]', { timeout: 20000 });
    const id = (await strip.getAttribute('data-guest'))!;
    await host.click(`#guest-${id} .guest-on-air`);
    await guest.waitForSelector('#guest-status[data-state="on-air"]', { timeout: 5000 });
    await host.waitForFunction((gid) => Number(document.getElementById(`meter-guest-${gid}`)?.dataset['peakDb']) > -50, id, { timeout: 5000 });
    await sleep(500);
    const [hostDb, foxDb] = await onAirLevels(stack, 5, [HOST_HZ, FIREFOX_HZ]);
    console.log(`      listener: host ${HOST_HZ} Hz ${hostDb!.toFixed(1)} dB, Firefox guest ${FIREFOX_HZ} Hz ${foxDb!.toFixed(1)} dB`);
    assert.ok(Math.abs(hostDb! - TONE_DB) < 3, `the host's tone is on air: ${hostDb!.toFixed(1)} dB`);
    assert.ok(foxDb! > -40, `the Firefox guest's ${FIREFOX_HZ} Hz tone is on air: ${foxDb!.toFixed(1)} dB`);
    await guest.click('#guest-leave');
    await guest.waitForSelector('#guest-status[data-state="left"]', { timeout: 5000 });
    await host.waitForSelector(`#guest-${id}`, { state: 'detached', timeout: 5000 });
    await host.click('#stop');
    assert.equal(await waitForState(host, ['ended', 'error'], 8000), 'ended');
  });
});
