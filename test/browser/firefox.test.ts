// The real broadcaster page in Debian's Firefox ESR (fake microphone, WebDriver BiDi through
// puppeteer-core) against a real icecast2 and the daemon: a listener receives valid Ogg/Opus.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Page } from 'puppeteer-core';
import { useFirefox } from '../helpers/browser.js';
import { probe, tempFile } from '../helpers/media.js';
import { listen, waitForMount, waitForMountGone } from '../helpers/listener.js';
import { startStack, type Stack } from '../helpers/stack.js';

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
  const firefox = useFirefox();
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
});
