// How a broadcaster's connection ends decides whether the show ends (docs/protocol.md, "How a
// connection ends"): a close frame with 1000 or with no status code is a Stop; 1001 and a
// connection lost without a close frame (1006) are drops that wait for a resume. One real
// icecast2 and daemon for every case; each case asserts on the broadcast's end reason and on
// the Icecast mount.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Broadcast } from '../../server/broadcast/broadcast.js';
import { fixture } from '../helpers/media.js';
import { listen, listMounts, waitFor, waitForMount, waitForMountGone } from '../helpers/listener.js';
import { childFfmpegPids, startStack, type Stack } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';

describe('stop and drop: what a close means (real icecast2)', function () {
  this.timeout(60000);
  let stack: Stack;
  let media: string;
  before(async () => {
    stack = await startStack({ limits: { reconnectGraceMs: 8000 } });
    media = await fixture('audio-webm', 10);
  });
  after(async () => {
    await stack?.stop();
    await waitFor('no ffmpeg left', () => childFfmpegPids().length === 0, 5000);
  });
  afterEach(async () => {
    // every case leaves the station off air for the next one
    await waitFor('station free', () => stack.daemon.registry.get('live') === undefined, 15000);
  });

  const adminPassword = (): string => stack.icecast!.adminPassword;

  async function goLive(resume?: string): Promise<{ c: WebcastClient; b: Broadcast; streaming: Promise<number> }> {
    const c = new WebcastClient(`${stack.wsBase}live`);
    await c.opened;
    c.hello({ mime: 'audio/webm;codecs=opus', user: stack.broadcaster.name, password: stack.broadcaster.password, ...(resume !== undefined ? { resume } : {}) });
    const streaming = c.stream(media, { seconds: 10, maxChunks: 12 }); // 3 s of audio
    await c.live();
    await waitForMount(stack.icecastUrl, adminPassword(), '/live.ogg');
    const b = stack.daemon.registry.get('live');
    assert.ok(b !== undefined, 'the broadcast is registered');
    return { c, b, streaming };
  }

  for (const [what, close] of [
    ['a close frame with no status code (webcast.js socket.close(): 1005)', (c: WebcastClient) => c.ws.close()],
    ['a close frame with 1000', (c: WebcastClient) => c.ws.close(1000)],
  ] as const) {
    it(`${what} is a Stop: ended "stopped" at once, the mount leaves Icecast within 2 s`, async () => {
      const { c, b, streaming } = await goLive();
      await streaming;
      const ended = once(b, 'ended') as Promise<[string]>;
      const t0 = Date.now();
      close(c);
      const { code } = await c.closed;
      if (what.includes('1005')) assert.equal(code, 1005, 'the client sent no status code');
      const goneMs = await waitForMountGone(stack.icecastUrl, adminPassword(), '/live.ogg', 5000);
      const [reason] = await ended;
      assert.equal(reason, 'stopped');
      assert.ok(Date.now() - t0 <= 2000, `the mount left Icecast ${Date.now() - t0} ms after the close (wanted ≤ 2000)`);
      console.log(`      (mount gone ${goneMs} ms after the close)`);
    });
  }

  for (const [what, drop] of [
    ['no close frame (1006: the network went away)', (c: WebcastClient) => c.ws.terminate()],
    ['a close frame with 1001 (the page is unloading)', (c: WebcastClient) => c.ws.close(1001)],
  ] as const) {
    it(`${what} is a drop: the broadcast waits, a resume within the grace period continues it`, async () => {
      const first = await goLive();
      await first.streaming;
      const rec = listen(`${stack.icecastUrl}/live.ogg`);
      assert.equal(await rec.status, 200);
      const last = first.c.statuses.at(-1)!;
      assert.ok(last.resume !== undefined && last.since !== undefined);
      drop(first.c);
      await first.c.closed;
      await waitFor('reconnecting', () => first.b.state === 'reconnecting', 3000);
      // still on air for listeners two seconds later: nothing ended, the mount is still there
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(first.b.isEnding, false, 'the drop did not end the broadcast');
      assert.ok((await listMounts(stack.icecastUrl, adminPassword())).includes('/live.ogg'), 'the mount stayed on Icecast');
      const status = await (await fetch(`${stack.baseUrl}/api/status/live`)).json() as { state: string; onAir: boolean };
      assert.equal(status.state, 'reconnecting');

      const second = await goLive(last.resume);
      assert.equal(second.b, first.b, 'the same broadcast continues');
      assert.equal(second.c.statuses.at(-1)!.since, last.since, 'same since: one show');
      await second.streaming;
      assert.equal(rec.ended(), false, 'the listener stayed connected through the drop');
      const ended = once(second.b, 'ended') as Promise<[string]>;
      second.c.close(1000);
      assert.equal((await ended)[0], 'stopped');
      rec.stop();
    });
  }
});
