// WebmDemuxer against real ffmpeg output: the frames it yields must be the packets ffprobe reads
// (payload hashes, timestamps, key flags), whatever the chunking, with live-style unknown sizes,
// and it must survive any input without throwing or growing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WebmDemuxer, type DemuxEvent, type FrameEvent, type TracksEvent } from '../../server/pipeline/webm-demuxer.js';

import { block, ebmlHeader, el, elUnknown, sizeBytes, str, uint, UNKNOWN_SIZE } from '../helpers/ebml.js';
import { mulberry32 } from '../helpers/prng.js';

const run = promisify(execFile);

const prng = mulberry32;

/** Push data in chunks of random sizes in [1, maxChunk]; all events in order. */
function pushChunked(d: WebmDemuxer, data: Buffer, rand: () => number, maxChunk: number): DemuxEvent[] {
  const out: DemuxEvent[] = [];
  for (let pos = 0; pos < data.length;) {
    const n = 1 + Math.floor(rand() * maxChunk);
    out.push(...d.push(data.subarray(pos, pos + n)));
    pos += n;
  }
  return out;
}

function demux(data: Buffer): DemuxEvent[] {
  return new WebmDemuxer().push(data);
}

const md5 = (b: Buffer): string => `MD5:${createHash('md5').update(b).digest('hex')}`;
const frames = (events: DemuxEvent[]): FrameEvent[] => events.filter((e): e is FrameEvent => e.type === 'frame');
const tracksOf = (events: DemuxEvent[]): TracksEvent => events.find((e): e is TracksEvent => e.type === 'tracks')!;

interface ProbePacket { stream: number; pts: number; key: boolean; hash: string }

async function probePackets(file: string): Promise<ProbePacket[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_data_hash', 'md5', '-show_entries',
    'packet=stream_index,pts,flags,data_hash', '-of', 'json', file], { maxBuffer: 64 * 1024 * 1024 });
  const j = JSON.parse(stdout) as { packets: { stream_index: number; pts: number; flags: string; data_hash: string }[] };
  return j.packets.map((p) => ({ stream: p.stream_index, pts: p.pts, key: p.flags.startsWith('K'), hash: p.data_hash }));
}

// --- Hand-made streams (EBML writer in test/helpers/ebml.ts) ---------------------------------

const OPUS_HEAD = Buffer.from('4f707573486561640102380180bb0000000000', 'hex');

function frameOf(n: number, fill: number): Buffer {
  return Buffer.alloc(n, fill);
}

// --- Rewriting a real file into Chromium's live layout ----------------------------------------

function readVint(buf: Buffer, pos: number): { value: number; length: number } {
  const length = Math.clz32(buf[pos]!) - 23;
  let value = buf[pos]! & (0xff >> length);
  for (let i = 1; i < length; i++) value = value * 256 + buf[pos + i]!;
  return { value, length };
}

/** The same file with the Segment and every Cluster given an unknown size (as Chromium writes). */
function withUnknownSizes(file: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  const ebmlSize = readVint(file, 4);
  const ebmlEnd = 4 + ebmlSize.length + ebmlSize.value;
  out.push(file.subarray(0, ebmlEnd), Buffer.from('18538067', 'hex'), UNKNOWN_SIZE);
  pos = ebmlEnd + 4 + readVint(file, ebmlEnd + 4).length;
  while (pos < file.length) {
    const idLength = Math.clz32(file[pos]!) - 23;
    const id = file.readUIntBE(pos, idLength);
    const size = readVint(file, pos + idLength);
    const bodyStart = pos + idLength + size.length;
    const end = size.value === 2 ** (7 * size.length) - 1 ? file.length : bodyStart + size.value;
    if (id === 0x1f43b675) out.push(file.subarray(pos, pos + idLength), UNKNOWN_SIZE, file.subarray(bodyStart, end));
    else out.push(file.subarray(pos, end));
    pos = end;
  }
  return Buffer.concat(out);
}

describe('WebmDemuxer', function () {
  let dir: string;
  const files: Record<'audio' | 'video' | 'live' | 'small', Buffer> = {} as never;
  const paths: Record<string, string> = {};

  before(async function () {
    this.timeout(60_000);
    dir = mkdtempSync(join(tmpdir(), 'icewire-webm-'));
    const sine = (s: number): string[] => ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${s}`];
    const video = (s: number, size = '320x240'): string[] => ['-f', 'lavfi', '-i', `testsrc=size=${size}:rate=30:duration=${s}`];
    const opus = ['-c:a', 'libopus', '-b:a', '96k', '-frame_duration', '20'];
    const vp8 = ['-c:v', 'libvpx', '-b:v', '500k', '-g', '30', '-deadline', 'realtime', '-cpu-used', '8'];
    const jobs: [keyof typeof files, string[]][] = [
      ['audio', [...sine(3), '-ac', '2', ...opus, '-f', 'webm']],
      ['video', [...video(3), ...sine(3), '-map', '0:v', '-map', '1:a', ...vp8, ...opus, '-f', 'webm']],
      ['live', [...video(3), ...sine(3), '-map', '0:v', '-map', '1:a', ...vp8, ...opus, '-live', '1', '-cluster_time_limit', '100', '-f', 'webm']],
      ['small', [...video(1, '96x64'), ...sine(1), '-map', '0:v', '-map', '1:a', ...vp8, '-b:v', '100k', ...opus, '-b:a', '32k', '-live', '1', '-cluster_time_limit', '200', '-f', 'webm']],
    ];
    await Promise.all(jobs.map(async ([name, args]) => {
      paths[name] = join(dir, `${name}.webm`);
      await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args, paths[name]!]);
      files[name] = readFileSync(paths[name]!);
    }));
  });

  after(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('reports the tracks once, with the exact header bytes up to the end of Tracks', function () {
    const events = demux(files.video);
    assert.equal(events.filter((e) => e.type === 'tracks').length, 1);
    assert.equal(events[0]!.type, 'tracks');
    const t = tracksOf(events);
    assert.deepEqual(t.tracks.map((x) => [x.number, x.type, x.codec, x.codecId]), [[1, 'video', 'vp8', 'V_VP8'], [2, 'audio', 'opus', 'A_OPUS']]);
    const [v, a] = t.tracks;
    assert.equal(v!.width, 320);
    assert.equal(v!.height, 240);
    assert.equal(a!.samplingRate, 48000);
    assert.equal(a!.channels, 1);
    assert.equal(a!.codecDelayNs, 6_500_000);
    assert.equal(a!.codecPrivate!.toString('latin1', 0, 8), 'OpusHead');
    assert.ok(t.header.equals(files.video.subarray(0, t.header.length)), 'header is a prefix of the stream');
    // The header alone yields exactly the same tracks event, so it ends right after Tracks.
    assert.deepEqual(new WebmDemuxer().push(t.header), [t]);
    assert.deepEqual(new WebmDemuxer().push(t.header.subarray(0, -1)), []);
  });

  for (const name of ['audio', 'video', 'live', 'live, unknown-size Clusters'] as const) {
    it(`yields the packets ffprobe reads: ${name} (count per stream, payload MD5, ms timestamps, key flags)`, async function () {
      this.timeout(20_000);
      let data = files[name === 'live, unknown-size Clusters' ? 'live' : name];
      let path = paths[name]!;
      if (name === 'live, unknown-size Clusters') {
        data = withUnknownSizes(data);
        path = join(dir, 'unknown.webm');
        writeFileSync(path, data);
      }
      const events = demux(data);
      assert.equal(events.filter((e) => e.type === 'error').length, 0);
      const tracks = tracksOf(events).tracks;
      const probe = await probePackets(path);
      const got = frames(events);
      assert.equal(got.length, probe.length);
      for (let s = 0; s < tracks.length; s++) {
        const t = tracks[s]!;
        // ffmpeg's Matroska demuxer subtracts CodecDelay (rounded to the 1 ms time base).
        const delay = Math.round((t.codecDelayNs ?? 0) / 1e6);
        const mine = got.filter((f) => f.track === t.number).map((f) => ({ pts: f.timeMs - delay, key: f.keyframe, hash: md5(f.data) }));
        const theirs = probe.filter((p) => p.stream === s).map((p) => ({ pts: p.pts, key: p.key, hash: p.hash }));
        assert.ok(mine.length > 0);
        assert.deepEqual(mine, theirs, `track ${t.number}`);
      }
    });
  }

  it('reports each Cluster with its time and byte offset', function () {
    for (const data of [files.live, withUnknownSizes(files.live)]) {
      const events = demux(data);
      const clusters = events.filter((e) => e.type === 'cluster');
      assert.ok(clusters.length >= 25, `${clusters.length} clusters of ~100 ms in 3 s`);
      let last = -1;
      for (const c of clusters) {
        assert.equal(data.readUInt32BE(c.offset), 0x1f43b675, 'offset points at a Cluster ID');
        assert.ok(c.timeMs > last);
        last = c.timeMs;
      }
      // Frames follow their cluster: each frame's time is at or after its cluster's.
      let clusterTime = 0;
      for (const e of events) {
        if (e.type === 'cluster') clusterTime = e.timeMs;
        if (e.type === 'frame') assert.ok(e.timeMs >= clusterTime);
      }
    }
  });

  it('header + data from a later Cluster is a valid stream: ffprobe and a new demuxer read the rest', async function () {
    this.timeout(20_000);
    const data = withUnknownSizes(files.live);
    const events = demux(data);
    const header = tracksOf(events).header;
    const clusters = events.filter((e) => e.type === 'cluster');
    const from = clusters[10]!;
    const restarted = Buffer.concat([header, data.subarray(from.offset)]);
    const expected = events.slice(events.indexOf(from));
    const again = demux(restarted);
    assert.deepEqual(again.slice(1),
      expected.map((e) => (e.type === 'cluster' ? { ...e, offset: e.offset - from.offset + header.length } : e)));
    const path = join(dir, 'restart.webm');
    writeFileSync(path, restarted);
    const probe = await probePackets(path);
    assert.deepEqual(probe.map((p) => p.hash), frames(expected).map((f) => md5(f.data)));
  });

  it('ends unknown-size Clusters at the next Cluster and at Cues, Tags and other Segment children', function () {
    // The non-live file ends with Cues after its last Cluster; make every Cluster unknown-size.
    const original = demux(files.video);
    const rewritten = withUnknownSizes(files.video);
    assert.ok(rewritten.includes(Buffer.from('1c53bb6b', 'hex')), 'the file has Cues');
    const events = demux(rewritten);
    assert.deepEqual(frames(events), frames(original));
    assert.equal(events.filter((e) => e.type === 'error').length, 0);
  });

  it('gives identical events whatever the chunking (seeded random sizes, and 1-byte chunks)', function () {
    this.timeout(20_000);
    for (const data of [files.video, withUnknownSizes(files.live)]) {
      const whole = demux(data);
      for (const [seed, maxChunk] of [[1, 7], [2, 300], [3, 5000], [4, 70_000]] as const) {
        assert.deepEqual(pushChunked(new WebmDemuxer(), data, prng(seed), maxChunk), whole, `seed ${seed}`);
      }
      assert.deepEqual(pushChunked(new WebmDemuxer(), data, () => 0, 1), whole, '1-byte chunks');
    }
  });

  it('audioFramesOnly: the same audio frames, Clusters and tracks, no video frames, whatever the chunking', function () {
    this.timeout(20_000);
    for (const data of [files.video, withUnknownSizes(files.live)]) {
      const whole = demux(data);
      const videoTrack = tracksOf(whole).tracks.find((t) => t.type === 'video')!.number;
      const expected = whole.filter((e) => e.type !== 'frame' || e.track !== videoTrack);
      assert.ok(expected.length < whole.length, 'the fixture has video frames to skip');
      const strip = (events: DemuxEvent[]): unknown[] => events.map((e) => (e.type === 'frame' ? { ...e, data: md5(e.data) } : e));
      assert.deepEqual(strip(new WebmDemuxer({ audioFramesOnly: true }).push(data)), strip(expected));
      for (const [seed, maxChunk] of [[1, 7], [3, 5000]] as const) {
        assert.deepEqual(strip(pushChunked(new WebmDemuxer({ audioFramesOnly: true }), data, prng(seed), maxChunk)), strip(expected), `seed ${seed}`);
      }
      assert.deepEqual(strip(pushChunked(new WebmDemuxer({ audioFramesOnly: true }), data, () => 0, 1)), strip(expected), '1-byte chunks');
    }
  });

  it('splits Xiph, EBML and fixed-size laced blocks, reads BlockGroups and honours TimecodeScale', function () {
    const xiph = [frameOf(300, 1), frameOf(10, 2), frameOf(1, 3)];
    const ebml = [frameOf(100, 4), frameOf(300, 5), frameOf(2, 6), frameOf(7, 7)];
    const fixed = [frameOf(20, 8), frameOf(20, 9), frameOf(20, 10)];
    const stream = Buffer.concat([
      ebmlHeader('matroska'),
      elUnknown(0x18538067,
        el(0xec, Buffer.alloc(50)), // Void
        el(0x1549a966, uint(0x2ad7b1, 500_000)), // Info: TimecodeScale 0.5 ms
        el(0x1654ae6b,
          el(0xae, uint(0xd7, 5), uint(0x83, 2), str(0x86, 'A_OPUS'), el(0x63a2, OPUS_HEAD), el(0xe1, uint(0x9f, 2))),
          el(0xae, uint(0xd7, 9), uint(0x83, 1), str(0x86, 'V_VP9'), el(0xe0, uint(0xb0, 640), uint(0xba, 480))),
          el(0xae, uint(0xd7, 3), uint(0x83, 0x11), str(0x86, 'S_TEXT/UTF8'))), // subtitles: not reported
        elUnknown(0x1f43b675,
          uint(0xe7, 2000),
          el(0xa3, block(5, 0, 0x80, xiph, 'xiph')),
          el(0xa3, block(5, 40, 0x80, ebml, 'ebml')),
          el(0xa3, block(5, -10, 0x80, fixed, 'fixed')),
          el(0xa0, el(0xa1, block(9, 66, 0, [frameOf(33, 11)], 'none')), uint(0x9b, 66), el(0xfb, Buffer.from([0xff, 0xbe]))),
          el(0xa0, el(0xa1, block(9, 132, 0, [frameOf(34, 12)], 'none'))),
          el(0xa3, block(9, 198, 0x80, [frameOf(35, 13)], 'none')),
          el(0xa3, block(3, 198, 0x80, [frameOf(5, 14)], 'none'))), // undeclared track: dropped
        el(0x1254c367, Buffer.alloc(10)), // Tags end the unknown-size Cluster
        el(0x1f43b675, uint(0xe7, 4000), el(0xa3, block(5, 0, 0, [frameOf(9, 15)], 'none'))),
        el(0x1c53bb6b, Buffer.alloc(20))), // Cues
    ]);
    const events = new WebmDemuxer().push(stream);
    assert.deepEqual(tracksOf(events).tracks.map((t) => [t.number, t.codec, t.channels, t.width]), [[5, 'opus', 2, undefined], [9, 'vp9', undefined, 640]]);
    const f = frames(events).map((e) => ({ track: e.track, timeMs: e.timeMs, keyframe: e.keyframe, data: e.data, ...(e.durationMs === undefined ? {} : { durationMs: e.durationMs }) }));
    const af = (timeMs: number, data: Buffer, keyframe = true): object => ({ track: 5, timeMs, keyframe, data });
    assert.deepEqual(f, [
      ...xiph.map((d) => af(1000, d)),
      ...ebml.map((d) => af(1020, d)),
      ...fixed.map((d) => af(995, d)),
      { track: 9, timeMs: 1033, keyframe: false, data: frameOf(33, 11), durationMs: 33 },
      { track: 9, timeMs: 1066, keyframe: true, data: frameOf(34, 12) },
      { track: 9, timeMs: 1099, keyframe: true, data: frameOf(35, 13) },
      af(2000, frameOf(9, 15), false),
    ]);
    assert.deepEqual(events.filter((e) => e.type === 'cluster').map((e) => e.timeMs), [1000, 2000]);
    assert.equal(events.filter((e) => e.type === 'error').length, 0);
    // Laced blocks whose sizes don't add up are invalid media, not a crash.
    const bad = Buffer.concat([stream.subarray(0, stream.indexOf(Buffer.from('1254c367', 'hex')))]);
    const broken = Buffer.from(bad);
    const at = broken.indexOf(block(5, 40, 0x80, ebml, 'ebml'));
    broken[at + 5] = 0x81; // first EBML lace size: 1 -> the others no longer fit
    const ev = new WebmDemuxer().push(broken);
    assert.equal(ev.at(-1)!.type, 'error');
  });

  it('reads Chromium\'s MediaRecorder layout (the start of a real Chromium 156 audio/webm recording)', function () {
    // Header and the first four Clusters of a fake-microphone recording (silence until the beep):
    // unknown-size Segment and Clusters, OpusHead with pre-skip 0 and no CodecDelay, and 60 ms
    // Opus packets (TOC 0xFB: CELT 20 ms, code 3, 3 frames), one per SimpleBlock, no lacing.
    const chromium = Buffer.from(
      '1a45dfa39f4286810142f7810142f2810442f381084282847765626d42878104428581021853806701ffffffffffffff'
      + '1549a966992ad7b1830f42404d80864368726f6d655741864368726f6d651654ae6bbfaebdd7810173c58709af8a3e3e'
      + '57c58381028686415f4f50555363a2934f707573486561640101000080bb0000000000e18db584473b80009f81016264'
      + '81201f43b67501ffffffffffffffe78100a38c81000080fb03fffefffefffea38c81003c80fb03fffefffefffe1f43b6'
      + '7501ffffffffffffffe78178a38c81000080fb03fffefffefffea38c81003c80fb03fffefffefffe1f43b67501ffffff'
      + 'ffffffffe781f0a38c81000080fb03fffefffefffea38c81003c80fb03fffefffefffe1f43b67501ffffffffffffffe7'
      + '820168a38c81000080fb03fffefffefffea38c81003c80fb03fffefffefffe', 'hex');
    const events = pushChunked(new WebmDemuxer(), chromium, prng(9), 50);
    assert.deepEqual(events, demux(chromium));
    const t = tracksOf(events);
    assert.equal(t.header.length, 146);
    assert.deepEqual(t.tracks.map((x) => [x.number, x.codec, x.channels, x.samplingRate, x.codecDelayNs]), [[1, 'opus', 1, 48000, undefined]]);
    assert.equal(t.tracks[0]!.codecPrivate!.readUInt16LE(10), 0, 'pre-skip 0');
    assert.deepEqual(events.filter((e) => e.type === 'cluster').map((e) => [e.timeMs, e.offset]), [[0, 146], [120, 189], [240, 232], [360, 275]]);
    const f = frames(events);
    assert.deepEqual(f.map((e) => e.timeMs), [0, 60, 120, 180, 240, 300, 360, 420]);
    for (const e of f) assert.ok(e.keyframe && e.data.equals(Buffer.from('fb03fffefffefffe', 'hex')));
  });

  it('skips unknown elements (Void, Tags…) without buffering them', function () {
    const d = new WebmDemuxer({ maxElementBytes: 8 * 1024 * 1024 });
    const head = Buffer.concat([ebmlHeader(), Buffer.from('18538067', 'hex'), UNKNOWN_SIZE,
      el(0x1654ae6b, el(0xae, uint(0xd7, 1), uint(0x83, 2), str(0x86, 'A_OPUS')))]);
    assert.equal(d.push(head)[0]!.type, 'tracks');
    const voidBody = 6 * 1024 * 1024;
    const voidHead = Buffer.concat([Buffer.from([0xec]), sizeBytes(voidBody)]);
    assert.deepEqual(d.push(voidHead), []);
    let max = 0;
    for (let i = 0; i < voidBody / 65536; i++) {
      assert.deepEqual(d.push(Buffer.alloc(65536)), []);
      max = Math.max(max, d.bufferedBytes);
    }
    assert.equal(max, 0);
    const cluster = Buffer.concat([elUnknown(0x1f43b675, uint(0xe7, 7), el(0xa3, block(1, 0, 0x80, [frameOf(3, 1)], 'none')))]);
    assert.deepEqual(d.push(cluster).map((e) => e.type), ['cluster', 'frame']);
  });

  describe('invalid input: one error event, then nothing', function () {
    const cases: [string, () => Buffer, WebmDemuxer?][] = [
      ['a first byte that is not the EBML magic', () => Buffer.from([0x4f])],
      ['Ogg data', () => Buffer.from('OggS\0\x02', 'latin1')],
      ['DocType "mp4"', () => ebmlHeader('mp4')],
      ['a malformed VINT (size byte 0x00)', () => Buffer.concat([ebmlHeader(), Buffer.from('1853806700', 'hex')])],
      ['an element ID below 0x10', () => Buffer.concat([ebmlHeader(), Buffer.from('0f', 'hex')])],
      ['a Cluster before Tracks', () => Buffer.concat([ebmlHeader(), elUnknown(0x18538067, elUnknown(0x1f43b675))])],
      ['a block before the Cluster Timecode', () => Buffer.concat([ebmlHeader(), elUnknown(0x18538067,
        el(0x1654ae6b, el(0xae, uint(0xd7, 1), uint(0x83, 2))), elUnknown(0x1f43b675, el(0xa3, block(1, 0, 0x80, [frameOf(3, 1)], 'none'))))])],
      ['an element larger than maxElementBytes', () => Buffer.concat([ebmlHeader(), elUnknown(0x18538067, Buffer.from([0xec]), sizeBytes(1025))]),
        new WebmDemuxer({ maxElementBytes: 1024 })],
      ['no Tracks within maxElementBytes', () => Buffer.concat([ebmlHeader(), elUnknown(0x18538067, el(0xec, Buffer.alloc(1000)), el(0xec, Buffer.alloc(1000)))]),
        new WebmDemuxer({ maxElementBytes: 1500 })],
      ['an unknown size on a non-master element', () => Buffer.concat([ebmlHeader(), elUnknown(0x18538067, elUnknown(0x1549a966))])],
      ['a child overrunning its parent', () => Buffer.concat([ebmlHeader(), el(0x18538067, Buffer.from('ec85', 'hex'))])],
      ['a second EBML header', () => Buffer.concat([ebmlHeader(), el(0x18538067), ebmlHeader()])],
    ];
    for (const [what, make, demuxer] of cases) {
      it(`rejects ${what}`, function () {
        const d = demuxer ?? new WebmDemuxer();
        const events = d.push(make());
        assert.equal(events.filter((x) => x.type === 'error').length, 1, JSON.stringify(events));
        const e = events.at(-1)!;
        assert.equal(e.type, 'error');
        assert.equal(e.code, 'IW_ERR_INGEST_INVALID_MEDIA');
        assert.doesNotMatch(e.detail, /internal/);
        assert.ok(d.failed);
        assert.deepEqual(d.push(files.audio), []);
        assert.equal(d.bufferedBytes, 0);
      });
    }
  });

  it('never throws and stays bounded on 2000 mutated files and on random bytes (fuzz)', function () {
    this.timeout(30_000);
    const base = files.small;
    const rand = prng(20240601);
    const int = (n: number): number => Math.floor(rand() * n);
    let errors = 0;
    let frameCount = 0;
    for (let i = 0; i < 2200; i++) {
      let data: Buffer;
      if (i >= 2000) {
        // Random bytes, half of them behind a valid EBML magic.
        data = Buffer.from(Array.from({ length: 1 + int(4000) }, () => int(256)));
        if (i % 2 === 0) data = Buffer.concat([Buffer.from('1a45dfa3', 'hex'), data]);
      } else {
        data = Buffer.from(base);
        const kind = i % 5;
        if (kind === 0 || kind === 4) for (let k = 1 + int(8); k > 0; k--) data[int(data.length)] = int(256);
        if (kind === 1) data = data.subarray(0, int(data.length));
        if (kind === 2 || kind === 4) {
          const at = int(data.length);
          data = Buffer.concat([data.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(64) }, () => int(256))), data.subarray(at)]);
        }
        if (kind === 3) {
          const from = int(data.length);
          const to = int(data.length);
          data = Buffer.concat([data.subarray(0, to), data.subarray(from, from + int(2000)), data.subarray(to)]);
        }
      }
      const max = i % 3 === 0 ? 256 + int(16 * 1024) : 8 * 1024 * 1024;
      const d = new WebmDemuxer({ maxElementBytes: max });
      let stopped = false;
      for (let pos = 0; pos < data.length;) {
        const n = 1 + int(i % 2 === 0 ? 64 : 8192);
        const events = d.push(data.subarray(pos, pos + n));
        pos += n;
        if (stopped) assert.deepEqual(events, []);
        for (const e of events) {
          assert.ok(!stopped, 'nothing after an error');
          if (e.type === 'error') {
            assert.doesNotMatch(e.detail, /internal/, `case ${i}: ${e.detail}`);
            stopped = true;
            errors++;
          }
          if (e.type === 'frame') {
            assert.ok(e.data.length <= max);
            frameCount++;
          }
        }
        assert.ok(d.bufferedBytes <= max + 12 + max, `case ${i}: ${d.bufferedBytes} bytes held`);
      }
    }
    assert.ok(errors > 500 && frameCount > 10_000, `${errors} errors, ${frameCount} frames`);
  });

  it('demuxes fast enough to be negligible (throughput on the video fixture)', function () {
    this.timeout(20_000);
    const data = files.live;
    const rounds = 40;
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) pushChunked(new WebmDemuxer(), data, prng(r), 16 * 1024);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const mbps = (data.length * rounds) / seconds / 1e6;
    this.test!.title += ` [${mbps.toFixed(0)} MB/s in 16 KiB chunks]`;
    assert.ok(mbps > 10, `${mbps} MB/s`);
  });
});
