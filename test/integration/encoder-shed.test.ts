// A transcoder that falls behind (here: a real ffmpeg stopped with SIGSTOP, as a saturated
// machine would starve it) does not take its listeners seconds behind: once it owes more than
// LAG_SHED_ABOVE_MS of audio the daemon stops handing it pages, counts what it dropped, and feeds
// it again when it has caught up. What ffmpeg wrote is still valid MP3, a gap shorter than the
// stop. The Icecast side is a counting stand-in (the subject is the encoder's input).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FfmpegPipe } from '../../server/broadcast/rendition-pipe.js';
import { DEFAULT_RECONNECT, RenditionOutput, type SourceConnection } from '../../server/broadcast/rendition-output.js';
import { LAG_SHED_ABOVE_MS } from '../../server/broadcast/encoder-lag.js';
import { createLogger } from '../../server/log.js';
import { OggOpusWriter } from '../../server/pipeline/ogg-opus-writer.js';
import { parseMime } from '../../server/pipeline/media-type.js';
import { kindFor, type RenditionPlan } from '../../server/pipeline/rendition-kinds.js';
import { WebmDemuxer } from '../../server/pipeline/webm-demuxer.js';
import { spawnDaemon } from '../helpers/daemon-process.js';
import { listen, waitForMount, waitForMountGone } from '../helpers/listener.js';
import { fixture, probe } from '../helpers/media.js';
import { secret } from '../helpers/stack.js';
import { afterThisTest } from '../helpers/teardown.js';
import { WebcastClient } from '../helpers/webcast-client.js';
import { startIcecast } from '../../server/icecast/managed-icecast.js';

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
    // ffmpeg writes each MP3 frame (a dozen a page) as it makes it; Icecast gets a page's worth at once
    assert.ok(source.got.length <= (7 + 13 + 8) * 2, `${source.got.length} Icecast writes for ${7 + 13 + 8} pages`);
    const mp3 = Buffer.concat(source.got);
    const p = await probe(mp3, 'mp3');
    assert.deepEqual(p.streams.map((s) => s.codec), ['mp3']);
    const fedS = (7 + 13 + 8) * 0.3;
    // everything fed less what was shed, give or take the encoder's edges
    assert.ok(Math.abs(p.audioSeconds - (fedS - pipe.shedMs / 1000)) < 0.8, `${p.audioSeconds.toFixed(2)} s of MP3 for ${fedS.toFixed(1)} s fed, ${(pipe.shedMs / 1000).toFixed(2)} s shed`);
  });
});

describe('encoders that start together (real ffmpeg)', function () {
  this.timeout(30000);

  it('share one capability query (fluent-ffmpeg ran `ffmpeg -formats` and `-encoders` for each until the first answered)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'icewire-caps-'));
    afterThisTest(() => rmSync(dir, { recursive: true, force: true }));
    const calls = join(dir, 'calls');
    const wrapper = join(dir, 'ffmpeg');
    writeFileSync(wrapper, `#!/bin/sh\necho "$1" >> '${calls}'\nexec ffmpeg "$@"\n`, { mode: 0o755 });
    // a fresh process: fluent-ffmpeg keeps the answers for the life of the process
    const script = `
      import { FfmpegProcess } from ${JSON.stringify(new URL('../../server/pipeline/ffmpeg-process.js', import.meta.url).href)};
      import { createLogger } from ${JSON.stringify(new URL('../../server/log.js', import.meta.url).href)};
      const logger = createLogger({ level: 'error', console: false });
      const ps = Array.from({ length: 4 }, () => new FfmpegProcess({ ffmpegPath: ${JSON.stringify(wrapper)}, inputOptions: ['-f', 'ogg'], outputOptions: ['-f', 'null'], logger }));
      await Promise.all(ps.map((p) => p.start()));
      // start() resolves once the wrapper is spawned: let each write its line before it is killed (at most 5 s)
      const { readFileSync } = await import('node:fs');
      const lines = () => { try { return readFileSync(${JSON.stringify(calls)}, 'utf8').trim().split('\\n').length; } catch { return 0; } };
      for (let i = 0; i < 100 && lines() < 6; i++) await new Promise((r) => setTimeout(r, 50));
      await Promise.all(ps.map((p) => p.kill()));`;
    await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
    const firstArgs = readFileSync(calls, 'utf8').trim().split('\n');
    assert.equal(firstArgs.filter((a) => a === '-formats').length, 1, firstArgs.join(' '));
    assert.equal(firstArgs.filter((a) => a === '-encoders').length, 1, firstArgs.join(' '));
    assert.equal(firstArgs.length, 2 + 4, 'and the four encoders');
  });
});

/** Stretches of silence (below -40 dBFS for 0.4 s or more) in an MP3, by decoding it. */
async function silences(mp3: Buffer): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'icewire-stall-'));
  try {
    writeFileSync(join(dir, 'got.mp3'), mp3);
    const { stderr } = await promisify(execFile)('ffmpeg', ['-hide_banner', '-nostats', '-i', join(dir, 'got.mp3'), '-af', 'silencedetect=n=-40dB:d=0.4', '-f', 'null', '-']);
    return stderr.split('\n').filter((l) => /silence_(start|end)/.test(l)).map((l) => l.replace(/^.*\] /, ''));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The other side of shedding: the daemon itself stalls (here: the whole process stopped for 3 s,
// as a saturated machine or a long pause would stall its event loop) while the broadcaster keeps
// sending. Its audio waits in the socket; it is not the broadcaster's silence, so no silence is
// written for it, nothing is dropped as late, and the burst read afterwards is not the encoder
// being behind (docs/performance.md, "Saturation").
describe('the daemon stalls 3 s while the broadcaster keeps sending (real daemon process, icecast2, ffmpeg)', function () {
  this.timeout(60000);

  it('no silence, no shedding: the MP3 listener hears the tone throughout and keeps up with the clock', async () => {
    const icecast = await startIcecast({ sourcePassword: secret(), adminPassword: secret() });
    afterThisTest(() => icecast.stop());
    const daemon = await spawnDaemon({ args: ['serve', '--listen', '127.0.0.1:0', '--icecast', icecast.url], cwd: '/' });
    const c = new WebcastClient(`${daemon.wsBase}stall.mp3`);
    await c.opened;
    c.hello({ mime: 'audio/webm;codecs=opus', user: 'source', password: icecast.sourcePassword });
    const streaming = c.stream(await fixture('audio-webm', 12), { seconds: 12 });
    await c.live();
    await waitForMount(icecast.url, icecast.adminPassword, '/stall.mp3');
    const rec = listen(`${icecast.url}/stall.mp3`);
    await sleep(1500);
    const atStop = { t: Date.now(), bytes: rec.bytes() };
    process.kill(daemon.child.pid!, 'SIGSTOP');
    try {
      await sleep(3000);
    } finally {
      process.kill(daemon.child.pid!, 'SIGCONT');
    }
    await sleep(3000);
    const later = { t: Date.now(), bytes: rec.bytes() };
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
    c.close();
    await streaming;
    await c.closed;
    await waitForMountGone(icecast.url, icecast.adminPassword, '/stall.mp3', 5000);
    const mp3 = await rec.done;
    await daemon.stop();
    const log = daemon.output();
    // 128 kbit/s: what the listener got across the stall and the 3 s after it, against the clock
    const gotMs = ((later.bytes - atStop.bytes) * 8) / 128;
    const wallMs = later.t - atStop.t;
    const skipped = /icewire_silence_skipped_total\{[^}]*why="daemon-stall"[^}]*\} (\d+)/.exec(metrics)?.[1] ?? '0';
    const what = `listener got ${Math.round(gotMs)} ms of MP3 in ${wallMs} ms across the stall; fills skipped for it: ${skipped}`;
    assert.ok(Math.abs(gotMs - wallMs) < 1000, what);
    assert.deepEqual(await silences(mp3), [], `the tone throughout, no silence in its place (${what})`);
    assert.doesNotMatch(log, /the encoder is behind/, 'no shedding episode');
    assert.doesNotMatch(log, /filling with silence/);
    assert.equal(log.split('\n').filter((l) => /the daemon did not run for a while/.test(l)).length, 1, 'the stall logged once');
    const p = await probe(mp3, 'mp3');
    assert.ok(p.audioSeconds > 6, `${p.audioSeconds.toFixed(2)} s of MP3 (${what})`);
  });
});
