// Going live end to end against a real icecast2 and real ffmpeg: what a listener receives.
import assert from 'node:assert/strict';
import { audioPacketHashes, fixture, probe } from '../helpers/media.js';
import { listen, waitFor, waitForMount, waitForMountGone } from '../helpers/listener.js';
import { childFfmpegPids, snapshotPs, startStack, type Stack } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';

describe('go live (real icecast2 + ffmpeg)', function () {
  this.timeout(60000);
  let stack: Stack;

  afterEach(async () => {
    await stack?.stop();
    assert.deepEqual(childFfmpegPids(), [], 'no ffmpeg is left behind');
  });

  it('streams Ogg/Opus to a listener, unchanged packets, and removes the mount on stop', async () => {
    stack = await startStack();
    const file = await fixture('audio-webm', 10);
    const c = new WebcastClient(`${stack.wsBase}live`);
    await c.opened;
    c.hello({ mime: 'audio/webm;codecs=opus', user: stack.broadcaster.name, password: stack.broadcaster.password });
    const streaming = c.stream(file, { seconds: 10, speed: 1.5 });
    await c.live();
    await waitForMount(stack.icecastUrl, stack.icecast!.adminPassword, '/live.ogg');
    const rec = listen(`${stack.icecastUrl}/live.ogg`);
    snapshotPs();
    await streaming;
    // let the last chunk through the pipeline before stopping
    await waitFor('all bytes out', () => c.statuses.length > 0 && c.statuses[c.statuses.length - 1]!.bytesIn > 0, 2000);
    c.close(1000);
    const goneMs = await waitForMountGone(stack.icecastUrl, stack.icecast!.adminPassword, '/live.ogg', 5000);
    assert.ok(goneMs <= 2000, `mount removed ${goneMs} ms after stop`);
    const got = await rec.done;
    const p = await probe(got);
    assert.deepEqual(p.streams.map((s) => s.codec), ['opus']);
    assert.ok(p.audioSeconds >= 5, `listener got ${p.audioSeconds.toFixed(2)} s of audio`);
    // zero transcode: every packet the listener got is byte-identical to one the client sent, in order
    const sent = await audioPacketHashes(file);
    const received = await audioPacketHashes(got);
    assert.ok(received.length > 200, `${received.length} packets received`);
    const start = sent.indexOf(received[0]!);
    assert.ok(start >= 0, 'first received packet is one the client sent');
    assert.deepEqual(received, sent.slice(start, start + received.length));
  });
});
