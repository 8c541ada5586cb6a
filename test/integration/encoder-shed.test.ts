// A transcoder that falls behind (here: a real ffmpeg stopped with SIGSTOP, as a saturated
// machine would starve it) does not take its listeners seconds behind: once it owes more than
// LAG_SHED_ABOVE_MS of audio the daemon stops handing it pages, counts what it dropped, and feeds
// it again when it has caught up. What ffmpeg wrote is still valid MP3, a gap shorter than the
// stop. The Icecast side is a counting stand-in (the subject is the encoder's input).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FfmpegPipe } from '../../server/broadcast/rendition-pipe.js';
import { DEFAULT_RECONNECT, RenditionOutput, type SourceConnection } from '../../server/broadcast/rendition-output.js';
import { LAG_SHED_ABOVE_MS } from '../../server/broadcast/encoder-lag.js';
import { createLogger } from '../../server/log.js';
import { OggOpusWriter } from '../../server/pipeline/ogg-opus-writer.js';
import { parseMime } from '../../server/pipeline/media-type.js';
import { kindFor, type RenditionPlan } from '../../server/pipeline/rendition-kinds.js';
import { WebmDemuxer } from '../../server/pipeline/webm-demuxer.js';
import { fixture, probe } from '../helpers/media.js';

class CollectingSource {
  readonly got: Buffer[] = [];
  bufferedBytes = 0;
  connect(): Promise<void> { return Promise.resolve(); }
  write(b: Buffer): boolean { this.got.push(b); return true; }
  end(): Promise<void> { return Promise.resolve(); }
  destroy(): void {}
  on(): this { return this; }
  removeAllListeners(): this { return this; }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a transcoder that falls behind (real ffmpeg, stopped)', function () {
  this.timeout(60000);

  it('sheds late audio while it is behind, counts it, and its output stays valid MP3', async () => {
    // 20 ms Opus packets from a WebM fixture, 300 ms (15 packets) a page, as the daemon feeds ffmpeg
    const packets: Buffer[] = [];
    let head: Buffer | undefined;
    for (const ev of new WebmDemuxer().push(readFileSync(await fixture('audio-webm', 12)))) {
      if (ev.type === 'tracks') head = ev.tracks[0]!.codecPrivate;
      if (ev.type === 'frame') packets.push(Buffer.from(ev.data));
    }
    const writer = new OggOpusWriter({ serial: 1234, opusHead: head! });
    const log = createLogger({ level: 'error', console: false });
    const input = parseMime('audio/webm;codecs=opus')!;
    const plan: RenditionPlan = { mount: '/shed.mp3', format: 'mp3', bitrate: 128 };
    const source = new CollectingSource();
    let pipe: FfmpegPipe | undefined;
    const output = new RenditionOutput({
      source: { url: 'http://127.0.0.1:9', mount: plan.mount, user: 'source', password: 'x', contentType: 'audio/mpeg', ice: {}, connectTimeoutMs: 1000, logger: log },
      header: () => pipe!.header(), policy: DEFAULT_RECONNECT, log,
      openSource: () => source as unknown as SourceConnection,
    });
    let shedSeconds = 0;
    pipe = new FfmpegPipe(plan, kindFor(plan, input), output, {
      input, ffmpegPath: 'ffmpeg', logger: log, maxQueueBytes: 8 * 1024 * 1024, shedCounter: { inc: (s) => { shedSeconds += s; } },
    });
    await pipe.start();
    pipe.oggHeaders(writer.headers());
    const pid = pipe.pids[0]!;
    const feed = async (fromPacket: number, pages: number): Promise<void> => {
      for (let k = 0; k < pages; k++) {
        pipe!.oggPages(writer.packets(packets.slice(fromPacket + k * 15, fromPacket + (k + 1) * 15)));
        await sleep(300);
      }
    };
    await feed(0, 7); // ~2 s in real time: no shedding
    assert.equal(pipe.shedMs, 0, 'an encoder that keeps up loses nothing');
    process.kill(pid, 'SIGSTOP');
    try {
      await feed(105, 13); // ~4 s while it is stopped
      assert.ok(pipe.shedMs >= 3900 - LAG_SHED_ABOVE_MS - 600, `shed ${pipe.shedMs} ms of the 3.9 s fed while the encoder was stopped`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const shedWhileStopped = pipe.shedMs;
    await feed(300, 8); // ~2.4 s: it catches up and is fed again
    assert.ok(pipe.shedMs - shedWhileStopped <= 600, 'feeding resumes once it caught up');
    assert.ok(Math.abs(shedSeconds * 1000 - pipe.shedMs) < 1, 'the metric counts what was shed');
    await pipe.finish(writer.end());
    const mp3 = Buffer.concat(source.got);
    const p = await probe(mp3, 'mp3');
    assert.deepEqual(p.streams.map((s) => s.codec), ['mp3']);
    const fedS = (7 + 13 + 8) * 0.3;
    // everything fed less what was shed, give or take the encoder's edges
    assert.ok(Math.abs(p.audioSeconds - (fedS - pipe.shedMs / 1000)) < 0.8, `${p.audioSeconds.toFixed(2)} s of MP3 for ${fedS.toFixed(1)} s fed, ${(pipe.shedMs / 1000).toFixed(2)} s shed`);
  });
});
