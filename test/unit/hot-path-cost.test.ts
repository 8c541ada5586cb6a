// What one broadcaster chunk costs on the hot path, counted rather than timed, so a busy machine
// cannot make it pass or fail: a WebM/Opus upload cut like a browser's (~300 ms chunks, cut
// mid-block) goes through the real media path (demuxer, Ogg writer) into two real Ogg/Opus copy
// renditions (CopyPipe -> RenditionOutput) whose Icecast connections count the writes they get.
//   - socket writes: one per chunk per mount (the chunk's packets in one Ogg page);
//   - Buffers made (Buffer.alloc/allocUnsafe/from/concat) per chunk;
//   - JS heap bytes allocated per chunk (used heap growth over a replay with no GC inside it).
// docs/performance.md has the figures these bounds were set from.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { setFlagsFromString, getHeapStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { systemClock } from '../../server/clock.js';
import { MediaPath } from '../../server/broadcast/media-path.js';
import { CopyPipe } from '../../server/broadcast/rendition-pipe.js';
import { DEFAULT_RECONNECT, RenditionOutput, type SourceConnection } from '../../server/broadcast/rendition-output.js';
import { createLogger } from '../../server/log.js';
import { parseMime } from '../../server/pipeline/media-type.js';
import { kindFor, type RenditionPlan } from '../../server/pipeline/rendition-kinds.js';
import { fixture } from '../helpers/media.js';
import { oggPages } from '../helpers/ogg-pages.js';

/** An Icecast source connection that accepts at once and counts what it is asked to send. */
class CountingSource {
  writes = 0;
  bytes = 0;
  readonly sent: Buffer[] = [];
  bufferedBytes = 0;
  connect(): Promise<void> { return Promise.resolve(); }
  write(b: Buffer): boolean { this.writes++; this.bytes += b.length; this.sent.push(b); return true; }
  end(): Promise<void> { return Promise.resolve(); }
  destroy(): void {}
  on(): this { return this; }
  removeAllListeners(): this { return this; }
}

const BUFFER_MAKERS = ['alloc', 'allocUnsafe', 'allocUnsafeSlow', 'from', 'concat'] as const;

/** Count the Buffers made while fn runs. */
function countBuffers(fn: () => void): number {
  let n = 0;
  const saved = BUFFER_MAKERS.map((k) => [k, Buffer[k]] as const);
  for (const [k, orig] of saved) {
    (Buffer as unknown as Record<string, unknown>)[k] = function (this: unknown, ...args: unknown[]) {
      n++;
      return (orig as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
  try { fn(); } finally {
    for (const [k, orig] of saved) (Buffer as unknown as Record<string, unknown>)[k] = orig;
  }
  return n;
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** JS heap bytes allocated while fn runs, or undefined when a GC ran inside it (retry). */
async function heapBytes(fn: () => void): Promise<number | undefined> {
  const gcs: number[] = [];
  const obs = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcs.push(e.startTime); });
  obs.observe({ entryTypes: ['gc'] });
  gc();
  await new Promise((r) => setImmediate(r));
  const t0 = performance.now();
  const before = getHeapStatistics().used_heap_size;
  fn();
  const after = getHeapStatistics().used_heap_size;
  const t1 = performance.now();
  await new Promise((r) => setTimeout(r, 20));
  obs.disconnect();
  return gcs.some((t) => t >= t0 && t <= t1) ? undefined : after - before;
}

const log = createLogger({ level: 'error', console: false });
const input = parseMime('audio/webm;codecs=opus')!;
const plans: RenditionPlan[] = [{ mount: '/a.ogg', format: 'ogg-opus', bitrate: undefined }, { mount: '/b.ogg', format: 'ogg-opus', bitrate: undefined }];

/** A media path with two Ogg/Opus copy mounts, started (Icecast "accepted"). */
async function makePath(): Promise<{ path: MediaPath; sources: CountingSource[] }> {
  const sources: CountingSource[] = [];
  const renditions = plans.map((plan) => {
    let pipe: CopyPipe | undefined;
    const output = new RenditionOutput({
      source: { url: 'http://127.0.0.1:9', mount: plan.mount, user: 'source', password: 'x', contentType: 'audio/ogg', ice: {}, connectTimeoutMs: 1000, logger: log },
      header: () => pipe!.header(),
      policy: DEFAULT_RECONNECT,
      log,
      openSource: () => { const s = new CountingSource(); sources.push(s); return s as unknown as SourceConnection; },
    });
    pipe = new CopyPipe(plan, kindFor(plan, input), output);
    return pipe;
  });
  await Promise.all(renditions.map((r) => r.start()));
  return { path: new MediaPath(input, renditions, undefined, log, { ffmpegPath: 'ffmpeg', maxQueueBytes: 8 << 20, clock: systemClock, admit: () => true }), sources };
}

/** Cut a file like Chromium's MediaRecorder does: ~300 ms chunks at byte positions that split blocks. */
function browserChunks(file: Buffer, bytesPerChunk: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < file.length; at += bytesPerChunk) out.push(file.subarray(at, at + bytesPerChunk));
  return out;
}

describe('hot path cost per broadcaster chunk (counted, not timed)', function () {
  this.timeout(60000);
  let chunks: Buffer[];
  before(async () => {
    // 96 kbit/s: 300 ms is ~3.6 kB
    chunks = browserChunks(readFileSync(await fixture('audio-webm', 10)), 3600);
  });

  /** Push chunks[from, to) through the path. */
  function replay(path: MediaPath, from = 0, to = chunks.length): void {
    for (let i = from; i < to; i++) path.push(chunks[i]!);
  }

  it('one socket write per chunk per mount, every Opus packet in the pages', async () => {
    const { path, sources } = await makePath();
    let audioChunks = 0;
    for (let i = 0; i < chunks.length; i++) {
      const before = sources[0]!.writes;
      path.push(chunks[i]!);
      if (sources[0]!.writes > before) audioChunks++;
    }
    assert.ok(chunks.length > 30 && audioChunks > 30);
    for (const s of sources) {
      // the header pages once, the first audio in two pages (ogg-fanout.ts), then one write per
      // chunk that completed any audio
      assert.equal(s.writes, audioChunks + 2, `${s.writes} writes for ${audioChunks} chunks with audio`);
      const pages = oggPages(Buffer.concat(s.sent));
      // 10 s of 20 ms packets, each counted in a page's granule (the last chunk's block may be cut)
      assert.ok(pages.at(-1)!.granule >= 9.9 * 48000, `granule ${pages.at(-1)!.granule}`);
    }
  });

  it('Buffers made per chunk: the page, and a block the chunk boundary cut in two', async () => {
    const { path } = await makePath();
    replay(path, 0, 5); // the stream header, the header pages
    const made = countBuffers(() => replay(path, 5));
    const perChunk = made / (chunks.length - 5);
    // one page (both copy mounts send the same one), plus the joined block
    assert.ok(perChunk <= 2.5, `${perChunk.toFixed(2)} Buffers made per chunk (one page per Opus packet made ~50)`);
  });

  it('JS heap bytes allocated per chunk stay under a bound', async () => {
    // warm the code up (the optimising compiler removes some allocations), then measure
    for (let k = 0; k < 3; k++) replay((await makePath()).path);
    let perChunk: number | undefined;
    for (let attempt = 0; attempt < 5 && perChunk === undefined; attempt++) {
      const { path } = await makePath();
      replay(path, 0, 5);
      const bytes = await heapBytes(() => replay(path, 5));
      if (bytes !== undefined) perChunk = bytes / (chunks.length - 5);
    }
    assert.ok(perChunk !== undefined, 'every attempt had a GC inside it');
    // Page bytes live outside the JS heap; this counts the objects made per chunk (demuxer
    // events, Buffer views, the page's Buffer object): ~14 kB with 15 packets a chunk, where one
    // page per packet with its copies and joins made ~41 kB.
    assert.ok(perChunk < 24000, `${perChunk.toFixed(0)} JS heap bytes allocated per chunk`);
  });
});
