// Going live end to end against a real icecast2 and real ffmpeg: what a listener receives.
import assert from 'node:assert/strict';
import { audioPacketHashes, fixture, probe } from '../helpers/media.js';
import { oggPages } from '../helpers/ogg-pages.js';
import { listen, waitFor, waitForMount, waitForMountGone } from '../helpers/listener.js';
import { snapshotPs, startStack, type Stack } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';

describe('go live (real icecast2 + ffmpeg)', function () {
  this.timeout(60000);
  let stack: Stack;


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
    // the last packet is the end-of-stream page's 20 ms of silence: the stream ends cleanly
    assert.deepEqual(received.slice(0, -1), sent.slice(start, start + received.length - 1));
    assert.ok(!sent.includes(received.at(-1)!), 'the final packet is the daemon\'s end-of-stream packet');
  });

  /** Go live with `file`, record each mount while streaming, stop, and return what listeners got. */
  async function broadcastAndRecord(mime: string, file: string, seconds: number, mounts: string[], whileLive?: (c: WebcastClient) => Promise<void>): Promise<Buffer[]> {
    const c = new WebcastClient(`${stack.wsBase}live`);
    await c.opened;
    c.hello({ mime, user: stack.broadcaster.name, password: stack.broadcaster.password });
    const streaming = c.stream(file, { seconds, speed: 1.25 });
    await c.live();
    for (const m of mounts) await waitForMount(stack.icecastUrl, stack.icecast!.adminPassword, m);
    const recs = mounts.map((m) => listen(`${stack.icecastUrl}${m}`));
    await whileLive?.(c);
    await streaming;
    c.close(1000);
    for (const m of mounts) await waitForMountGone(stack.icecastUrl, stack.icecast!.adminPassword, m, 5000);
    assert.equal((await c.closed).code, 1000);
    return Promise.all(recs.map((r) => r.done));
  }

  it('feeds MP3 and Ogg/Vorbis transcodes and an Opus remux from one broadcast', async () => {
    stack = await startStack({ renditions: [
      { mount: '/live.ogg', format: 'ogg-opus' },
      { mount: '/live.mp3', format: 'mp3', bitrate: 128 },
      { mount: '/live.vorbis.ogg', format: 'ogg-vorbis' },
    ] });
    type Src = { listenurl: string; server_name?: string; server_description?: string; genre?: string; bitrate?: number | string; server_type?: string };
    let sources: Src[] = [];
    type Src2 = Src & { title?: string };
    const [opus, mp3, vorbis] = await broadcastAndRecord('audio/webm;codecs=opus', await fixture('audio-webm', 10), 10, ['/live.ogg', '/live.mp3', '/live.vorbis.ogg'], async (c) => {
      // now playing reaches Icecast's stats for the MP3 and Vorbis mounts
      c.ws.send(JSON.stringify({ type: 'metadata', data: { title: 'Morning Show', artist: 'Studio Ä' } }));
      await waitFor('titles in status-json', async () => {
        const j = JSON.parse(await (await fetch(`${stack.icecastUrl}/status-json.xsl`)).text()) as { icestats: { source?: Src2 | Src2[] } };
        const list = ([] as Src2[]).concat(j.icestats.source ?? []);
        const titled = list.filter((x) => x.title === 'Studio Ä - Morning Show').map((x) => new URL(x.listenurl).pathname).sort();
        return titled.join(',') === '/live.mp3,/live.vorbis.ogg' ? true : undefined;
      }, 5000);
      // status-json.xsl is not always valid JSON in Icecast 2.4.4 (docs/notes/icecast.md): read until it is
      sources = await waitFor('valid status-json with 3 sources', async () => {
        const j = JSON.parse(await (await fetch(`${stack.icecastUrl}/status-json.xsl`)).text()) as { icestats: { source?: Src | Src[] } };
        const list = ([] as Src[]).concat(j.icestats.source ?? []);
        return list.length === 3 ? list : undefined;
      }, 5000);
    });
    // Ogg/Opus listeners get the title in the OpusTags of a new, cleanly finished chain
    const chains = oggPages(opus!).filter((pg) => pg.bos).length;
    assert.ok(chains >= 2, `${chains} chains`);
    assert.ok(opus!.includes(Buffer.from('TITLE=Morning Show')) && opus!.includes(Buffer.from('ARTIST=Studio Ä')), 'OpusTags carry the title');
    for (const [buf, codec] of [[opus!, 'opus'], [mp3!, 'mp3'], [vorbis!, 'vorbis']] as const) {
      const p = await probe(buf);
      assert.deepEqual(p.streams.map((s) => s.codec), [codec]);
      assert.ok(p.audioSeconds >= 5, `${codec}: ${p.audioSeconds.toFixed(2)} s`);
    }
    // Icecast got the ice-* headers from the station mount config, and bare content types
    const byMount = new Map(sources.map((s) => [new URL(s.listenurl).pathname, s]));
    assert.equal(byMount.size, 3);
    for (const s of byMount.values()) {
      assert.equal(s.server_name, 'Test Radio');
      assert.equal(s.server_description, 'icewire test');
      assert.equal(s.genre, 'Test');
    }
    assert.equal(Number(byMount.get('/live.mp3')!.bitrate), 128);
    assert.equal(byMount.get('/live.mp3')!.server_type, 'audio/mpeg');
    assert.equal(byMount.get('/live.ogg')!.server_type, 'audio/ogg');
  });

  it('remuxes WebM VP8+Opus video to a WebM mount', async () => {
    stack = await startStack({ renditions: [{ mount: '/live.webm', format: 'webm' }, { mount: '/live.ogg', format: 'ogg-opus' }] });
    const [webm, ogg] = await broadcastAndRecord('video/webm;codecs=vp8,opus', await fixture('video-webm', 10), 10, ['/live.webm', '/live.ogg']);
    const p = await probe(webm!);
    assert.deepEqual(p.streams.map((s) => s.codec).sort(), ['opus', 'vp8']);
    assert.ok(p.videoPackets > 100, `${p.videoPackets} video packets`);
    assert.ok(p.audioSeconds >= 5, `${p.audioSeconds.toFixed(2)} s`);
    const a = await probe(ogg!);
    assert.deepEqual(a.streams.map((s) => s.codec), ['opus'], 'the Ogg rendition of a video broadcast is its audio');
  });

  it('takes Firefox\'s Ogg/Opus recording', async () => {
    stack = await startStack();
    const [ogg] = await broadcastAndRecord('audio/ogg;codecs=opus', await fixture('audio-ogg', 10), 10, ['/live.ogg']);
    const p = await probe(ogg!);
    assert.deepEqual(p.streams.map((s) => s.codec), ['opus']);
    assert.ok(p.audioSeconds >= 5, `${p.audioSeconds.toFixed(2)} s`);
  });
});
