// The real broadcaster page where the browser records only MP4 (as Safari does): Debian's Chromium
// is told WebM and Ogg are unsupported, so the page falls back to `audio/mp4` — Chromium then
// records Opus in fragmented MP4 — and goes live; an Ogg/Opus and an MP3 listener each get 5 s
// and more of valid audio. (Safari's AAC in MP4 is tested over the webcast protocol in
// test/integration/mp4-upload.test.ts: no Safari runs here.)
import assert from 'node:assert/strict';
import { useChromium } from '../helpers/browser.js';
import { assertListenerGot } from '../helpers/media.js';
import { listen, waitFor } from '../helpers/listener.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { goLive, stopAndWaitOffAir } from './browser-helpers.js';

// Page-side code: the project's tsconfig has no DOM lib, so this stands in for the one global used.
declare const MediaRecorder: { isTypeSupported(mime: string): boolean };

/** Runs in the page before its scripts: only MP4 recording is "supported", like Safari. */
function onlyMp4(): void {
  const native = MediaRecorder.isTypeSupported.bind(MediaRecorder);
  MediaRecorder.isTypeSupported = (mime: string): boolean => /^(audio|video)\/mp4/i.test(mime) && native(mime);
}

describe('broadcaster page in Chromium recording audio/mp4', function () {
  this.timeout(60000);
  const chromium = useChromium();
  let stack: Stack;
  before(async () => {
    stack = await startStack({ renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }, { mount: '/live.mp3', format: 'mp3', bitrate: 128 }] });
  });
  after(async () => {
    await stack?.stop();
  });

  it('falls back to audio/mp4 where WebM and Ogg are not available, goes live, and both listeners get valid audio', async () => {
    const page = await goLive(chromium.browser, stack, ['/live.ogg', '/live.mp3'], { initScript: onlyMp4 });
    const b = stack.daemon.registry.get('live');
    assert.ok(b !== undefined);
    assert.match(b.input.mime, /^audio\/mp4/, 'the page announced MP4');
    const recs = ['/live.ogg', '/live.mp3'].map((m) => listen(`${stack.icecastUrl}${m}`, { maxMs: 7000 }));
    const [ogg, mp3] = await Promise.all(recs.map((r) => r.done));
    await waitFor('still live', () => b.state === 'live', 1000);
    await stopAndWaitOffAir(page, stack, '/live.ogg');
    await assertListenerGot(ogg!, ['opus'], 'Ogg/Opus');
    await assertListenerGot(mp3!, ['mp3'], 'MP3');
  });
});
