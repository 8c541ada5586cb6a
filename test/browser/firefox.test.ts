// The real broadcaster page in Debian's Firefox ESR (fake microphone, WebDriver BiDi through
// puppeteer-core) against a real icecast2 and the daemon: a listener receives valid Ogg/Opus, with
// the microphone, and with a deck playing a file. Firefox's audio engine needs an output device:
// the suite gives it a private PulseAudio null sink (pulse-sink.ts).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Page } from 'puppeteer-core';
import { useFirefox } from '../helpers/browser.js';
import { probe, tempFile } from '../helpers/media.js';
import { listen, waitForMount, waitForMountGone } from '../helpers/listener.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { decodePcm, makeAudioFile, median, toneLevels } from './audio-analysis.js';
import { usePulseSink } from './pulse-sink.js';

/** Loudest sample of the decoded audio, in dBFS (a silent broadcast would be about -91). */
async function maxVolumeDb(media: Buffer): Promise<number> {
  const { stderr } = await promisify(execFile)('ffmpeg', ['-hide_banner', '-nostats', '-i', tempFile(media), '-af', 'volumedetect', '-f', 'null', '-']);
  const m = /max_volume: (-?[\d.]+|-inf) dB/.exec(stderr);
  return m === null || m[1] === '-inf' ? -Infinity : Number(m[1]);
}

// Page-side code runs in the browser; the project's tsconfig has no DOM lib (it is for Node).
declare const document: {
  getElementById(id: string): { textContent: string | null; dataset: Record<string, string | undefined> } | null;
};

async function statusOf(page: Page): Promise<{ state: string; button: string; error: string }> {
  return page.evaluate(() => ({
    state: document.getElementById('status')!.dataset['state'] ?? '',
    button: document.getElementById('go-live')!.textContent ?? '',
    error: document.getElementById('error')!.textContent ?? '',
  }));
}

async function waitForState(page: Page, states: string[], timeoutMs: number): Promise<string> {
  try {
    await page.waitForFunction((want: string[]) => want.includes(document.getElementById('status')!.dataset['state'] ?? ''), { timeout: timeoutMs, polling: 100 }, states);
  } catch (err) {
    throw new Error(`page did not reach ${states.join('|')}: ${JSON.stringify(await statusOf(page))}`, { cause: err });
  }
  return (await statusOf(page)).state;
}

describe('broadcaster page in Firefox', function () {
  this.timeout(60000);
  // Firefox's audio engine needs an output device: a private null sink, started before the browser.
  const pulse = usePulseSink();
  const firefox = useFirefox(() => pulse.env);
  let stack: Stack | undefined;


  it('goes live with audio; a listener gets valid Ogg/Opus; Stop ends it', async () => {
    stack = await startStack();
    const s = stack;
    const page = await firefox.browser.newPage();
    await page.setViewport({ width: 1000, height: 800 });
    await page.goto(`${s.baseUrl}/`);
    await page.waitForSelector('body[data-auth-mode="accounts"]', { timeout: 10000 });
    await page.type('#user', s.broadcaster.name);
    await page.type('#password', s.broadcaster.password);
    await page.select('#mount', 'live');
    await page.click('#go-live');
    assert.equal(await waitForState(page, ['live', 'error'], 15000), 'live');
    assert.equal((await statusOf(page)).button, 'On air');
    await waitForMount(s.icecastUrl, s.icecast!.adminPassword, '/live.ogg', 5000);

    const rec = listen(`${s.icecastUrl}/live.ogg`, { maxMs: 6500 });
    assert.equal(await rec.status, 200);
    const got = await rec.done;
    const sent = await page.evaluate(() => Number(document.getElementById('bytes-sent')!.dataset['bytes']));
    assert.ok(sent > 50_000, `page sent ${sent} bytes`);

    await page.click('#stop');
    const goneMs = await waitForMountGone(s.icecastUrl, s.icecast!.adminPassword, '/live.ogg', 5000);
    assert.ok(goneMs <= 2000, `mount gone ${goneMs} ms after Stop`);
    assert.equal(await waitForState(page, ['ended', 'error'], 5000), 'ended');
    await page.close();

    const p = await probe(got);
    assert.deepEqual(p.streams.map((x) => x.codec), ['opus']);
    assert.ok(p.audioSeconds >= 5, `listener got ${p.audioSeconds.toFixed(2)} s of Opus`);
    const loudest = await maxVolumeDb(got);
    assert.ok(loudest > -40, `the fake microphone is audible to the listener (max ${loudest} dBFS)`);
  });

  it('a deck plays a file to air: the listener gets valid Opus with the file\'s 1 kHz tone', async () => {
    stack = await startStack();
    const s = stack;
    const file = await makeAudioFile('firefox-tone.ogg', 'sine=frequency=1000:sample_rate=48000:duration=30', { title: 'Fox Tone', artist: 'Test' }, 'volume=6dB');
    const page = await firefox.browser.newPage();
    await page.setViewport({ width: 1300, height: 900 });
    await page.goto(`${s.baseUrl}/`);
    await page.waitForSelector('#studio[data-ready="true"]', { timeout: 10000 });
    await page.type('#user', s.broadcaster.name);
    await page.type('#password', s.broadcaster.password);
    await page.select('#mount', 'live');
    await page.click('#go-live');
    assert.equal(await waitForState(page, ['live', 'error'], 15000), 'live');
    assert.equal(await page.evaluate(() => document.getElementById('studio')!.dataset['audio']), 'running', 'Firefox\'s audio engine runs (PulseAudio sink)');
    const input = await page.$('#deck-a-files');
    await (input as unknown as { uploadFile(p: string): Promise<void> }).uploadFile(file);
    await page.waitForFunction(() => document.getElementById('deck-a-title')!.textContent === 'Fox Tone', { timeout: 5000 });
    await page.click('#mic-on'); // mic off: only the deck
    await page.click('#deck-a-play');
    await page.waitForFunction(() => document.getElementById('deck-a')!.dataset['playing'] === 'true', { timeout: 5000 });
    await waitForMount(s.icecastUrl, s.icecast!.adminPassword, '/live.ogg', 5000);
    const rec = listen(`${s.icecastUrl}/live.ogg`, { maxMs: 6000 });
    assert.equal(await rec.status, 200);
    const got = await rec.done;
    await page.click('#stop');
    assert.equal(await waitForState(page, ['ended', 'error'], 5000), 'ended');
    await page.close();
    const p = await probe(got);
    assert.deepEqual(p.streams.map((x) => x.codec), ['opus']);
    assert.ok(p.audioSeconds >= 4, `listener got ${p.audioSeconds.toFixed(2)} s of Opus`);
    const tone = toneLevels(await decodePcm(got), 1000).filter((l) => l > -40);
    assert.ok(tone.length > 20, 'the deck\'s tone is on air');
    // The file is -15 dBFS a side (lavfi's -18 dBFS sine, +6 dB, -3 dB in ffmpeg's mono-to-stereo
    // upmix); at the crossfader's middle a deck is at -3 dB: about -18 on air.
    const level = median(tone);
    assert.ok(Math.abs(level - -18) <= 2, `deck level on air ${level.toFixed(1)} dBFS`);
  });
});
