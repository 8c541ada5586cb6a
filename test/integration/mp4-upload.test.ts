// MP4 uploads over the webcast protocol (issue 9, "iPhone and Safari hosts"): a fragmented-MP4
// AAC stream made like Safari's MediaRecorder output, and Chromium's Opus in MP4, against a real
// icecast2 and real ffmpeg. Every rendition is made from them; the Opus copy stays byte-exact;
// a drop and resume keeps one stream. (The real page recording audio/mp4 in Chromium is in
// test/browser/mp4-recorder.test.ts.) One icecast2 and daemon for every case.
import assert from 'node:assert/strict';
import type { Broadcast } from '../../server/broadcast/broadcast.js';
import { assertListenerGot, audioPacketHashes, probe, uploadFixture } from '../helpers/media.js';
import { oggPages } from '../helpers/ogg-pages.js';
import { listen, waitFor, waitForMount, waitForMountGone, type Recording } from '../helpers/listener.js';
import { childFfmpegPids, startStack, type Stack } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';

const MOUNTS = ['/live.ogg', '/live.mp3'];

describe('MP4 uploads: Safari\'s AAC and Chromium\'s Opus (real icecast2 + ffmpeg)', function () {
  this.timeout(60000);
  let stack: Stack;
  before(async () => {
    stack = await startStack({ renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }, { mount: '/live.mp3', format: 'mp3', bitrate: 128 }] });
  });
  after(async () => {
    await stack?.stop();
    await waitFor('no ffmpeg left', () => childFfmpegPids().length === 0, 5000);
  });
  afterEach(async () => {
    await waitFor('station free', () => stack.daemon.registry.get('live') === undefined, 15000);
  });

  const admin = (): string => stack.icecast!.adminPassword;

  async function goLive(mime: string, resume?: string): Promise<{ c: WebcastClient; b: Broadcast }> {
    const c = new WebcastClient(`${stack.wsBase}live`);
    await c.opened;
    c.hello({ mime, user: stack.broadcaster.name, password: stack.broadcaster.password, ...(resume !== undefined ? { resume } : {}) });
    await c.live();
    for (const m of MOUNTS) await waitForMount(stack.icecastUrl, admin(), m);
    return { c, b: stack.daemon.registry.get('live')! };
  }

  async function stop(c: WebcastClient, recs: Recording[]): Promise<Buffer[]> {
    c.close(1000);
    for (const m of MOUNTS) await waitForMountGone(stack.icecastUrl, admin(), m, 5000);
    return Promise.all(recs.map((r) => r.done));
  }

  it('a fragmented-MP4 AAC stream made like Safari\'s: Ogg/Opus and MP3 listeners each get 5 s and more of valid audio', async () => {
    const file = await uploadFixture('aac-mp4', 10);
    const { c, b } = await goLive('audio/mp4');
    const recs = MOUNTS.map((m) => listen(`${stack.icecastUrl}${m}`));
    const streaming = c.stream(file, { seconds: 10, speed: 1.25 });
    // one normaliser (AAC -> Opus) and the MP3 transcoder
    await waitFor('the normaliser and the MP3 encoder run', () => b.pids.length === 2, 5000);
    await streaming;
    const [ogg, mp3] = await stop(c, recs);
    await assertListenerGot(ogg!, ['opus'], 'Ogg/Opus');
    await assertListenerGot(mp3!, ['mp3'], 'MP3');
  });

  it('Chromium\'s Opus in MP4 is demuxed by the daemon: the Ogg/Opus listener gets the packets as sent, no normaliser runs', async () => {
    const file = await uploadFixture('opus-mp4', 10);
    const { c, b } = await goLive('audio/mp4;codecs=opus');
    const recs = MOUNTS.map((m) => listen(`${stack.icecastUrl}${m}`));
    const streaming = c.stream(file, { seconds: 10, speed: 1.25 });
    await waitFor('some audio out', () => recs[0]!.bytes() > 20000, 8000);
    assert.equal(b.pids.length, 1, 'only the MP3 encoder runs');
    await streaming;
    const [ogg, mp3] = await stop(c, recs);
    const sent = await audioPacketHashes(file);
    const received = (await audioPacketHashes(ogg!)).slice(0, -1); // the last is the end page's silence
    assert.ok(received.length > 200, `${received.length} packets`);
    const start = sent.indexOf(received[0]!);
    assert.ok(start >= 0, 'the first packet received is one that was sent');
    assert.deepEqual(received, sent.slice(start, start + received.length));
    assert.ok((await probe(mp3!)).audioSeconds >= 5);
  });

  it('an AAC upload dropped (1006) and resumed: the listener stays connected and gets one Ogg stream', async () => {
    const file = await uploadFixture('aac-mp4', 10);
    const first = await goLive('audio/mp4');
    const rec = listen(`${stack.icecastUrl}/live.ogg`);
    assert.equal(await rec.status, 200);
    await first.c.stream(file, { seconds: 10, maxChunks: 12 });
    const token = first.c.statuses.at(-1)!.resume!;
    first.c.ws.terminate();
    await waitFor('reconnecting', () => first.b.state === 'reconnecting', 3000);
    // the broadcaster is away for a second: silence keeps the stream going
    await new Promise((r) => setTimeout(r, 1000));
    const second = await goLive('audio/mp4', token);
    assert.equal(second.b, first.b, 'the same broadcast continues');
    await second.c.stream(file, { seconds: 10, maxChunks: 12 });
    await waitFor('the resumed audio reaches the listener', () => rec.bytes() > 40000, 5000);
    assert.equal(rec.ended(), false, 'the listener stayed connected through the drop');
    const [ogg] = await stop(second.c, [rec]);
    const pages = oggPages(ogg!);
    assert.equal(pages.filter((p) => p.bos).length, 1, 'one logical stream: no new chain for the reconnect');
    assert.equal(new Set(pages.map((p) => p.serial)).size, 1);
    const p = await probe(ogg!);
    assert.ok(p.audioSeconds >= 5, `${p.audioSeconds.toFixed(2)} s`);
  });
});
