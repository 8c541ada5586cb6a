// Ogg/Opus written and read by the daemon itself: page CRCs, granule positions (RFC 7845), Opus
// packet durations (RFC 6716), checked against real ffmpeg/ffprobe: zero-transcode WebM -> Ogg,
// silence gaps that decode to digital silence, chained streams, and a reader for Firefox's Ogg.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { IcewireError } from '../../server/errors.js';
import { OggOpusWriter, oggCrc32, oggPageCrc, opusPacketSamples, parseOpusHead } from '../../server/pipeline/ogg-opus-writer.js';
import { OggReader, type OggEvent, type OggFrameEvent, type OggTracksEvent } from '../../server/pipeline/ogg-reader.js';
import { WebmDemuxer, type FrameEvent, type TracksEvent } from '../../server/pipeline/webm-demuxer.js';

import { mulberry32 } from '../helpers/prng.js';

const run = promisify(execFile);

const prng = mulberry32;

const md5 = (b: Buffer): string => `MD5:${createHash('md5').update(b).digest('hex')}`;

interface Page { type: number; granule: bigint; serial: number; sequence: number; crc: number; lacing: number[]; body: Buffer; raw: Buffer }

/** Split a buffer of whole Ogg pages (test-side parser, independent of OggReader). */
function pagesOf(data: Buffer): Page[] {
  const pages: Page[] = [];
  for (let pos = 0; pos < data.length;) {
    assert.equal(data.toString('latin1', pos, pos + 4), 'OggS');
    const n = data[pos + 26]!;
    const lacing = [...data.subarray(pos + 27, pos + 27 + n)];
    const bodyLength = lacing.reduce((a, b) => a + b, 0);
    const end = pos + 27 + n + bodyLength;
    pages.push({
      type: data[pos + 5]!, granule: data.readBigInt64LE(pos + 6), serial: data.readUInt32LE(pos + 14),
      sequence: data.readUInt32LE(pos + 18), crc: data.readUInt32LE(pos + 22), lacing,
      body: data.subarray(pos + 27 + n, end), raw: data.subarray(pos, end),
    });
    pos = end;
  }
  return pages;
}

interface ProbePacket { pts: number; duration: number; hash: string }

async function probePackets(file: string): Promise<ProbePacket[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-show_data_hash', 'md5',
    '-show_entries', 'packet=pts,duration,data_hash', '-of', 'json', file], { maxBuffer: 64 * 1024 * 1024 });
  return (JSON.parse(stdout) as { packets: { pts: number; duration: number; data_hash: string }[] }).packets
    .map((p) => ({ pts: p.pts, duration: p.duration, hash: p.data_hash }));
}

async function probeFormat(file: string): Promise<{ codec: string; channels: number; duration: number }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,channels:format=duration', '-of', 'json', file]);
  const j = JSON.parse(stdout) as { streams: { codec_name: string; channels: number }[]; format: { duration: string } };
  return { codec: j.streams[0]!.codec_name, channels: j.streams[0]!.channels, duration: Number(j.format.duration) };
}

/** Decode with ffmpeg; returns stderr (empty when clean at -v error) and the s16le PCM. */
function decode(file: string): Promise<{ stderr: string; pcm: Buffer; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-v', 'error', '-nostdin', '-i', file, '-f', 's16le', '-']);
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ stderr, pcm: Buffer.concat(out), code }));
  });
}

function maxAbs(pcm: Buffer, from = 0, to = pcm.length / 2): number {
  let m = 0;
  for (let i = from; i < to; i++) m = Math.max(m, Math.abs(pcm.readInt16LE(i * 2)));
  return m;
}

const MONO_HEAD = Buffer.from('4f707573486561640101380180bb0000000000', 'hex');
const STEREO_HEAD = Buffer.from('4f707573486561640102380180bb0000000000', 'hex');

describe('opusPacketSamples (RFC 6716 §3.1 TOC)', function () {
  // Frame length in ms per config 0..31: SILK NB/MB/WB, Hybrid SWB/FB, CELT NB/WB/SWB/FB.
  const MS = [10, 20, 40, 60, 10, 20, 40, 60, 10, 20, 40, 60, 10, 20, 10, 20,
    2.5, 5, 10, 20, 2.5, 5, 10, 20, 2.5, 5, 10, 20, 2.5, 5, 10, 20];

  it('gives 48 kHz samples for configs 0..31 and codes 0..3', function () {
    for (let config = 0; config < 32; config++) {
      const perFrame = MS[config]! * 48;
      for (const stereo of [0, 4]) {
        const toc = (config << 3) | stereo;
        assert.equal(opusPacketSamples(Buffer.from([toc | 0, 0xaa])), perFrame, `config ${config} code 0`);
        assert.equal(opusPacketSamples(Buffer.from([toc | 1, 0xaa, 0xbb])), 2 * perFrame, `config ${config} code 1`);
        assert.equal(opusPacketSamples(Buffer.from([toc | 2, 1, 0xaa, 0xbb])), 2 * perFrame, `config ${config} code 2`);
        for (let count = 0; count < 64; count++) {
          // Code 3: the count byte's low 6 bits (the VBR and padding flags above them don't matter).
          const want = count === 0 || count * perFrame > 5760 ? 0 : count * perFrame;
          assert.equal(opusPacketSamples(Buffer.from([toc | 3, 0xc0 | count, 0])), want, `config ${config} code 3 × ${count}`);
        }
      }
    }
  });

  it('is 0 for packets with no valid duration, and the static method is the same function', function () {
    assert.equal(opusPacketSamples(Buffer.alloc(0)), 0);
    assert.equal(opusPacketSamples(Buffer.from([0xfb])), 0, 'code 3 without its count byte');
    assert.equal(opusPacketSamples(Buffer.from([0xf8])), 960, 'a TOC alone is a valid (DTX) packet');
    assert.equal(OggOpusWriter.opusPacketSamples(Buffer.from([0x1b, 2])), 5760);
  });
});

describe('Ogg/Opus against ffmpeg', function () {
  let dir: string;
  const f: Record<'webm' | 'ogg' | 'paged' | 'ogg6', string> = {} as never;
  let webmEvents: (TracksEvent | FrameEvent)[];
  let webmTrack: TracksEvent['tracks'][number];
  let webmFrames: FrameEvent[];

  before(async function () {
    this.timeout(60_000);
    dir = mkdtempSync(join(tmpdir(), 'icewire-ogg-'));
    const sine = (s: number): string[] => ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${s}`];
    const opus = ['-c:a', 'libopus', '-b:a', '96k', '-frame_duration', '20'];
    const jobs: [keyof typeof f, string, string[]][] = [
      ['webm', 'webm', [...sine(3), '-ac', '2', ...opus, '-f', 'webm']],
      ['ogg', 'ogg', [...sine(3), '-ac', '2', ...opus, '-f', 'ogg']],
      // One packet per page, bit-exact headers: the reference for re-paging byte-identically.
      ['paged', 'ogg', [...sine(1), '-ac', '2', ...opus, '-page_duration', '20000', '-fflags', '+bitexact', '-flags:a', '+bitexact', '-f', 'ogg']],
      ['ogg6', 'ogg', [...sine(1), '-ac', '6', ...opus, '-mapping_family', '1', '-b:a', '256k', '-f', 'ogg']],
    ];
    await Promise.all(jobs.map(async ([name, ext, args]) => {
      f[name] = join(dir, `${name}.${ext}`);
      await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args, f[name]]);
    }));
    webmEvents = new WebmDemuxer().push(readFileSync(f.webm)) as (TracksEvent | FrameEvent)[];
    webmTrack = (webmEvents[0] as TracksEvent).tracks[0]!;
    webmFrames = webmEvents.filter((e): e is FrameEvent => e.type === 'frame');
  });

  after(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const save = (name: string, data: Buffer): string => {
    const p = join(dir, name);
    writeFileSync(p, data);
    return p;
  };

  describe('page CRC', function () {
    it('matches the CRC-32 check value (poly 0x04c11db7, init 0, no reflection, no final XOR)', function () {
      // CRC-32/CKSUM has check value 0x765e7680 with a final XOR of 0xffffffff; Ogg has none.
      assert.equal(oggCrc32(Buffer.from('123456789', 'latin1')), (0x765e7680 ^ 0xffffffff) >>> 0);
      assert.equal(oggCrc32(Buffer.alloc(0)), 0);
    });

    it('agrees with every page ffmpeg wrote', function () {
      const pages = pagesOf(readFileSync(f.ogg));
      assert.ok(pages.length > 5);
      for (const p of pages) assert.equal(oggPageCrc(p.raw), p.crc);
    });

    it('re-pages ffmpeg\'s one-packet-per-page Ogg byte-identically (same serial, packets, OpusTags)', function () {
      const original = readFileSync(f.paged);
      const events = new OggReader().push(original);
      const tracks = events[0] as OggTracksEvent;
      const frames = events.slice(1) as OggFrameEvent[];
      const w = new OggOpusWriter({ serial: tracks.serial, opusHead: tracks.tracks[0]!.codecPrivate!, opusTags: tracks.opusTags });
      const mine = Buffer.concat([w.headers(), ...frames.slice(0, -1).map((e) => w.packet(e.data))]);
      // All but ffmpeg's last page, whose granule trims the end (RFC 7845 §4.5) where end() doesn't.
      const theirs = pagesOf(original);
      assert.equal(pagesOf(mine).length, theirs.length - 1);
      assert.ok(mine.equals(original.subarray(0, mine.length)), 'byte-identical pages');
      assert.equal(theirs[2]!.granule, 960n, 'first audio page granule: its packet\'s samples, pre-skip included, not added');
    });
  });

  describe('OggOpusWriter', function () {
    it('writes OpusHead alone on a BOS page and OpusTags on its own page, both granule 0', function () {
      const w = new OggOpusWriter({ serial: 0xdeadbeef, opusHead: STEREO_HEAD, vendor: 'icewire test', tags: { TITLE: 'Morning show', ARTIST: 'Zoë' } });
      const pages = pagesOf(Buffer.concat([w.headers(), w.packet(Buffer.from([0xfc, 0xff, 0xfe]))]));
      assert.deepEqual(pages.map((p) => [p.type, p.granule, p.serial, p.sequence, p.lacing.length]), [
        [0x02, 0n, 0xdeadbeef, 0, 1], [0, 0n, 0xdeadbeef, 1, 1], [0, 960n, 0xdeadbeef, 2, 1],
      ]);
      assert.ok(pages[0]!.body.equals(STEREO_HEAD));
      const tags = pages[1]!.body;
      assert.equal(tags.toString('latin1', 0, 8), 'OpusTags');
      const vendorLength = tags.readUInt32LE(8);
      assert.equal(tags.toString('utf8', 12, 12 + vendorLength), 'icewire test');
      assert.equal(tags.readUInt32LE(12 + vendorLength), 2);
      assert.ok(tags.includes(Buffer.from('ARTIST=Zoë', 'utf8')));
      assert.ok(w.headers().equals(w.headers()), 'headers() is repeatable');
      for (const p of pages) assert.equal(oggPageCrc(p.raw), p.crc);
    });

    it('remuxes WebM/Opus to Ogg/Opus with zero transcode: ffprobe sees the same packets and duration', async function () {
      this.timeout(20_000);
      const w = new OggOpusWriter({ serial: 1234, opusHead: webmTrack.codecPrivate! });
      const out = Buffer.concat([w.headers(), ...webmFrames.slice(0, -1).map((e) => w.packet(e.data)), w.end(webmFrames.at(-1)!.data)]);
      const path = save('remux.ogg', out);
      const [inHashes, outPackets, inFormat, outFormat, decoded] = await Promise.all([
        probePackets(f.webm), probePackets(path), probeFormat(f.webm), probeFormat(path), decode(path),
      ]);
      assert.equal(outFormat.codec, 'opus');
      assert.equal(outFormat.channels, 2);
      assert.deepEqual(outPackets.map((p) => p.hash), inHashes.map((p) => p.hash));
      assert.ok(Math.abs(outFormat.duration - inFormat.duration) <= 0.04, `${outFormat.duration} s vs ${inFormat.duration} s`);
      assert.equal(decoded.stderr, '');
      assert.equal(decoded.code, 0);
      const pages = pagesOf(out);
      assert.equal(pages.length, 2 + webmFrames.length, 'one page per packet');
      assert.deepEqual(pages.map((p) => p.sequence), pages.map((_, i) => i));
      assert.deepEqual(pages.map((p) => p.type), [0x02, ...pages.slice(1, -1).map(() => 0), 0x04]);
      assert.equal(pages[2]!.granule, 960n);
      assert.equal(pages.at(-1)!.granule, BigInt(960 * webmFrames.length));
    });

    it('fills a 2 s gap with silence: decodes cleanly and lasts 2 s longer', async function () {
      this.timeout(20_000);
      const half = webmFrames.length >> 1;
      const write = (gapMs: number): Buffer => {
        const w = new OggOpusWriter({ serial: 99, opusHead: webmTrack.codecPrivate! });
        return Buffer.concat([w.headers(), ...webmFrames.slice(0, half).map((e) => w.packet(e.data)),
          ...(gapMs > 0 ? [w.silence(gapMs)] : []), ...webmFrames.slice(half).map((e) => w.packet(e.data)), w.end()]);
      };
      const plain = save('plain.ogg', write(0));
      const gap = save('gap.ogg', write(2000));
      const [a, b, pa, pb] = await Promise.all([decode(plain), decode(gap), probeFormat(plain), probeFormat(gap)]);
      assert.equal(b.stderr, '');
      assert.equal(b.code, 0);
      const frames = (x: { pcm: Buffer }): number => x.pcm.length / 4;
      assert.equal(frames(b) - frames(a), 96_000, 'exactly 2 s more samples');
      assert.ok(Math.abs(pb.duration - pa.duration - 2) < 0.001, `${pb.duration} - ${pa.duration}`);
      // The gap is digital silence once the tone's last frame has faded out (measured: ~250 samples
      // of CELT overlap and de-emphasis tail at ±1 LSB), so skip one frame of it.
      const gapStart = half * 960 - 312 + 960;
      assert.equal(maxAbs(b.pcm, 2 * gapStart, 2 * (gapStart + 96_000 - 2 * 960)), 0);
      assert.ok(maxAbs(a.pcm) > 1000, 'the tone is there');
    });

    it('silence() decodes to digital zero for mono, stereo and 6-channel (multistream) heads', async function () {
      this.timeout(20_000);
      const six = (new OggReader().push(readFileSync(f.ogg6))[0] as OggTracksEvent).tracks[0]!.codecPrivate!;
      await Promise.all([[MONO_HEAD, 1], [STEREO_HEAD, 2], [six, 6]].map(async ([head, channels]) => {
        const w = new OggOpusWriter({ serial: 5, opusHead: head as Buffer });
        const out = Buffer.concat([w.headers(), w.silence(1000), w.silence(57.5), w.silence(1.3), w.end()]);
        assert.equal(w.granulePosition, 48_000 + 57.5 * 48 + 120 + 960);
        const path = save(`silence-${channels as number}.ogg`, out);
        const [d, p] = await Promise.all([decode(path), probeFormat(path)]);
        assert.equal(d.stderr, '');
        assert.equal(p.channels, channels);
        assert.equal(d.pcm.length / 2 / (channels as number), w.granulePosition - 312);
        assert.equal(maxAbs(d.pcm), 0);
      }));
    });

    it('silence() rounds to 2.5 ms, packs ~1 s per page, and writes nothing for 0, negative or NaN', function () {
      const w = new OggOpusWriter({ serial: 5, opusHead: MONO_HEAD });
      w.headers();
      assert.equal(w.silence(0).length, 0);
      assert.equal(w.silence(-5).length, 0);
      assert.equal(w.silence(Number.NaN).length, 0);
      assert.equal(w.silence(1.2).length, 0, '1.2 ms rounds to 0');
      const pages = pagesOf(w.silence(2500));
      assert.deepEqual(pages.map((p) => p.lacing.length), [50, 50, 25]);
      assert.deepEqual(pages.map((p) => p.granule), [48_000n, 96_000n, 120_000n]);
      // a code-3 packet: CELT 20 ms silence with 154 padding bytes, so silence flows at a normal bitrate
      assert.ok(pages[0]!.body.subarray(0, 5).equals(Buffer.from([0xfb, 0x41, 154, 0xff, 0xfe])));
      assert.equal(pages[0]!.lacing[0], 5 + 154);
    });

    it('ends with an EOS page, then refuses packets; newChain() starts a clean chained stream', async function () {
      this.timeout(20_000);
      let w = new OggOpusWriter({ serial: 1, opusHead: webmTrack.codecPrivate!, tags: { TITLE: 'one' } });
      const parts = [w.headers(), ...webmFrames.slice(0, 75).map((e) => w.packet(e.data)), w.end()];
      assert.ok(w.ended);
      assert.throws(() => w.packet(webmFrames[0]!.data), (e: unknown) => e instanceof IcewireError && e.code === 'IW_ERR_INTERNAL');
      assert.throws(() => w.silence(20), IcewireError);
      assert.throws(() => w.newChain({ serial: 1 }), IcewireError);
      w = w.newChain({ serial: 2, tags: { TITLE: 'two' } });
      parts.push(w.headers(), ...webmFrames.slice(75).map((e) => w.packet(e.data)), w.end());
      const out = Buffer.concat(parts);
      const pages = pagesOf(out);
      assert.deepEqual(pages.filter((p) => p.type & 0x04).map((p) => p.serial), [1, 2]);
      assert.deepEqual(pages.filter((p) => p.type & 0x02).map((p) => p.serial), [1, 2]);
      const second = pages.filter((p) => p.serial === 2);
      assert.deepEqual(second.slice(0, 3).map((p) => [p.sequence, p.granule]), [[0, 0n], [1, 0n], [2, 960n]]);
      const d = await decode(save('chain.ogg', out));
      assert.equal(d.stderr, '');
      assert.equal(d.pcm.length / 4, (webmFrames.length + 2) * 960 - 2 * 312);
    });

    it('splits packets and OpusTags larger than a page across pages, with the continued flag', async function () {
      this.timeout(20_000);
      const big = Buffer.alloc(70_000, 7);
      big[0] = 0xfc;
      const w = new OggOpusWriter({ serial: 3, opusHead: STEREO_HEAD, tags: { COMMENT: 'x'.repeat(100_000) } });
      const out = Buffer.concat([w.headers(), w.packet(big), ...webmFrames.slice(0, 10).map((e) => w.packet(e.data))]);
      const pages = pagesOf(out);
      assert.deepEqual(pages.slice(0, 6).map((p) => [p.type, p.granule]), [[2, 0n], [0, -1n], [1, 0n], [0, -1n], [1, 960n], [0, 1920n]]);
      const events = new OggReader().push(out);
      assert.equal(events.length, 12);
      const t = events[0] as OggTracksEvent;
      assert.equal(t.opusTags.length, 8 + 4 + 7 + 4 + 4 + 8 + 100_000);
      const fr = events.slice(1) as OggFrameEvent[];
      assert.ok(fr[0]!.data.equals(big));
      assert.deepEqual(fr.slice(1).map((e) => e.data), webmFrames.slice(0, 10).map((e) => e.data));
    });

    it('drops packets with no valid TOC duration and counts them; rejects a bad OpusHead or serial', function () {
      const w = new OggOpusWriter({ serial: 3, opusHead: STEREO_HEAD });
      assert.equal(w.packet(Buffer.alloc(0)).length, 0);
      assert.equal(w.packet(Buffer.from([0xff, 0x00])).length, 0);
      assert.equal(w.droppedPackets, 2);
      assert.equal(w.pageSequence, 2);
      const invalid = (e: unknown): boolean => e instanceof IcewireError && e.code === 'IW_ERR_INGEST_INVALID_MEDIA';
      assert.throws(() => new OggOpusWriter({ serial: 1, opusHead: Buffer.from('OpusHead') }), invalid);
      assert.throws(() => new OggOpusWriter({ serial: 1, opusHead: Buffer.from('4f707573486561640103380180bb0000000000', 'hex') }), invalid, '3 channels need family 1');
      assert.throws(() => new OggOpusWriter({ serial: 2 ** 32, opusHead: STEREO_HEAD }), IcewireError);
      assert.throws(() => new OggOpusWriter({ serial: 1, opusHead: STEREO_HEAD, tags: { 'A=B': 'c' } }), IcewireError);
      assert.deepEqual(parseOpusHead(STEREO_HEAD), { channels: 2, preSkip: 312, inputSampleRate: 48000, mappingFamily: 0, streams: 1, coupledStreams: 1 });
    });
  });

  describe('OggReader', function () {
    it('reads ffmpeg\'s Ogg/Opus: the packets, hashes and timestamps ffprobe sees', async function () {
      this.timeout(20_000);
      const data = readFileSync(f.ogg);
      const events = new OggReader().push(data);
      const t = events[0] as OggTracksEvent;
      assert.equal(t.type, 'tracks');
      assert.equal(t.opusTags.toString('latin1', 0, 8), 'OpusTags');
      const pages = pagesOf(data);
      assert.equal(t.serial, pages[0]!.serial);
      assert.ok(t.header.equals(Buffer.concat([pages[0]!.raw, pages[1]!.raw])));
      const frames = events.slice(1) as OggFrameEvent[];
      assert.ok(frames.every((e) => e.type === 'frame'));
      const probe = await probePackets(f.ogg);
      const preSkip = parseOpusHead(t.tracks[0]!.codecPrivate!)!.preSkip;
      assert.deepEqual(frames.map((e) => md5(e.data)), probe.map((p) => p.hash));
      // ffmpeg's Ogg demuxer subtracts pre-skip; timeMs is on the raw granule timeline like WebM's.
      assert.deepEqual(frames.map((e) => e.timeMs * 48 - preSkip), probe.map((p) => p.pts));
      assert.deepEqual(frames.slice(0, -1).map((e) => e.samples), probe.slice(0, -1).map((p) => p.duration));
      assert.equal(frames.at(-1)!.granule, Number(pages.at(-1)!.granule));
    });

    it('gives the same tracks and frames as WebmDemuxer for the same Opus stream in WebM', function () {
      const events = new OggReader().push(readFileSync(f.ogg));
      const track = (events[0] as OggTracksEvent).tracks[0]!;
      for (const key of ['number', 'type', 'codec', 'codecId', 'codecPrivate', 'channels', 'samplingRate', 'codecDelayNs'] as const) {
        assert.deepEqual(track[key], webmTrack[key], key);
      }
      const frames = events.slice(1) as OggFrameEvent[];
      const shape = (e: FrameEvent): object => ({ type: e.type, track: e.track, keyframe: e.keyframe, data: e.data });
      assert.deepEqual(frames.map(shape), webmFrames.map(shape));
      // Same timeline, up to the 1 ms rounding of Matroska block times.
      frames.forEach((e, i) => assert.ok(Math.abs(e.timeMs - webmFrames[i]!.timeMs) <= 1, `${e.timeMs} vs ${webmFrames[i]!.timeMs}`));
    });

    it('reads back what OggOpusWriter wrote', function () {
      const w = new OggOpusWriter({ serial: 77, opusHead: webmTrack.codecPrivate! });
      const out = Buffer.concat([w.headers(), w.silence(100), ...webmFrames.map((e) => w.packet(e.data)), w.end()]);
      const events = new OggReader().push(out);
      assert.deepEqual((events[0] as OggTracksEvent).header, w.headers());
      const frames = events.slice(1) as OggFrameEvent[];
      assert.deepEqual(frames.slice(5, -1).map((e) => e.data), webmFrames.map((e) => e.data));
      assert.deepEqual(frames.map((e) => e.timeMs), frames.map((_, i) => i * 20));
    });

    it('a chained stream (a source client\'s next track) continues the one track: no second tracks event, packets on one timeline', function () {
      const w1 = new OggOpusWriter({ serial: 7, opusHead: webmTrack.codecPrivate! });
      const w2 = w1.newChain({ serial: 8 });
      const half = Math.floor(webmFrames.length / 2);
      const a = webmFrames.slice(0, half).map((e) => e.data);
      const b = webmFrames.slice(half).map((e) => e.data);
      const out = Buffer.concat([w1.headers(), ...a.slice(0, -1).map((d) => w1.packet(d)), w1.end(a.at(-1)!), w2.headers(), ...b.slice(0, -1).map((d) => w2.packet(d)), w2.end(b.at(-1)!)]);
      const events = new OggReader().push(out);
      assert.equal(events.filter((e) => e.type === 'tracks').length, 1);
      assert.deepEqual((events[0] as OggTracksEvent).header, w1.headers(), 'the first chain\'s header is the track\'s');
      const frames = events.slice(1) as OggFrameEvent[];
      assert.ok(frames.every((e) => e.type === 'frame'), JSON.stringify(events.find((e) => e.type === 'error')));
      assert.deepEqual(frames.map((e) => e.data), [...a, ...b]);
      assert.deepEqual(frames.map((e) => e.timeMs), frames.map((_, i) => i * 20));
    });

    it('refuses a chain that changes the channel count, or is not Opus', function () {
      const w1 = new OggOpusWriter({ serial: 7, opusHead: STEREO_HEAD });
      const mono = w1.newChain({ serial: 8, opusHead: MONO_HEAD });
      const events = new OggReader().push(Buffer.concat([w1.headers(), w1.end(), mono.headers()]));
      const e = events.at(-1)!;
      assert.ok(e.type === 'error' && /2 to 1 channels/.test(e.detail), JSON.stringify(e));
      const w3 = new OggOpusWriter({ serial: 7, opusHead: STEREO_HEAD });
      const vorbis = new OggOpusWriter({ serial: 9, opusHead: STEREO_HEAD }).headers();
      vorbis.write('\x01vorbis\0', 28, 'latin1');
      vorbis.writeUInt32LE(0, 22);
      vorbis.writeUInt32LE(oggPageCrc(vorbis.subarray(0, 47)), 22);
      const notOpus = new OggReader().push(Buffer.concat([w3.headers(), w3.end(), vorbis.subarray(0, 47)])).at(-1)!;
      assert.ok(notOpus.type === 'error' && /not Opus/.test(notOpus.detail), JSON.stringify(notOpus));
    });

    it('gives identical events whatever the chunking (seeded random sizes, 1-byte and empty chunks)', function () {
      this.timeout(10_000);
      const data = readFileSync(f.ogg);
      const whole = new OggReader().push(data);
      for (const [seed, maxChunk] of [[1, 1], [2, 30], [3, 700], [4, 70_000]] as const) {
        const r = new OggReader();
        const rand = prng(seed);
        const got: OggEvent[] = [];
        for (let pos = 0; pos < data.length;) {
          const n = 1 + Math.floor(rand() * maxChunk);
          got.push(...r.push(data.subarray(pos, pos + n)));
          got.push(...r.push(Buffer.alloc(0))); // Firefox hands out empty Blobs between pages
          pos += n;
        }
        assert.deepEqual(got, whole, `seed ${seed}`);
      }
    });

    it('reports a bad CRC, a stream that is not Ogg or not Opus, then stays stopped', function () {
      const data = readFileSync(f.paged);
      const pages = pagesOf(data);
      const offset = pages.slice(0, 5).reduce((n, p) => n + p.raw.length, 0);
      for (const at of [offset + 40, offset + 22]) {
        const bad = Buffer.from(data);
        bad[at]! ^= 0x01;
        const r = new OggReader();
        const events = r.push(bad);
        assert.equal(events.length, 1 + 3 + 1, 'tracks, the frames of pages 2..4, then the error');
        const e = events.at(-1)!;
        assert.ok(e.type === 'error' && e.code === 'IW_ERR_INGEST_INVALID_MEDIA' && /CRC/.test(e.detail), JSON.stringify(e));
        assert.deepEqual(r.push(data), []);
        assert.ok(r.failed);
      }
      const notOpus = new OggOpusWriter({ serial: 1, opusHead: STEREO_HEAD }).headers();
      notOpus.write('OpusHeaX', 28, 'latin1');
      notOpus.writeUInt32LE(oggPageCrc(notOpus.subarray(0, 47)), 22);
      const cases: [string, Buffer][] = [
        ['WebM', Buffer.from('1a45dfa3', 'hex')],
        ['a non-BOS first page', pagesOf(data)[3]!.raw],
        ['no OpusHead', notOpus],
      ];
      // Endless empty pages before OpusTags: refused once past the header bound, not kept.
      const empty = Buffer.alloc(27);
      empty.write('OggS', 0, 'latin1');
      empty.writeUInt32LE(1, 14);
      empty.writeUInt32LE(oggPageCrc(empty), 22);
      cases.push(['endless empty pages', Buffer.concat([new OggOpusWriter({ serial: 1, opusHead: STEREO_HEAD }).headers().subarray(0, 47),
        ...Array.from({ length: 3000 }, () => empty)])]);
      for (const [what, input] of cases) {
        const events = new OggReader({ maxPacketBytes: 1000 }).push(input);
        assert.equal(events.length, 1, what);
        assert.equal(events[0]!.type, 'error', what);
      }
    });

    it('never throws and stays bounded on 2000 mutated files (fuzz)', function () {
      this.timeout(30_000);
      const base = readFileSync(f.paged);
      const rand = prng(7);
      const int = (n: number): number => Math.floor(rand() * n);
      let errors = 0;
      let frames = 0;
      for (let i = 0; i < 2000; i++) {
        let data = Buffer.from(base);
        const kind = i % 4;
        if (kind === 0) for (let k = 1 + int(4); k > 0; k--) data[int(data.length)] = int(256);
        if (kind === 1) data = data.subarray(0, int(data.length));
        if (kind === 2) {
          const at = int(data.length);
          data = Buffer.concat([data.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(64) }, () => int(256))), data.subarray(at)]);
        }
        if (kind === 3) {
          // Mutate, then fix the CRCs, so the page and packet logic sees the damage, not just the CRC.
          for (let k = 1 + int(4); k > 0; k--) data[int(data.length)] = int(256);
          for (let pos = 0; pos + 27 <= data.length;) {
            const n = data[pos + 26]!;
            let end = pos + 27 + n;
            for (let s = 0; s < n && pos + 27 + s < data.length; s++) end += data[pos + 27 + s]!;
            if (end > data.length || data.toString('latin1', pos, pos + 4) !== 'OggS') break;
            data.writeUInt32LE(oggPageCrc(data.subarray(pos, end)), pos + 22);
            pos = end;
          }
        }
        const max = i % 2 === 0 ? 64 + int(2000) : 1024 * 1024;
        const r = new OggReader({ maxPacketBytes: max });
        let stopped = false;
        for (let pos = 0; pos < data.length;) {
          const n = 1 + int(2000);
          const events = r.push(data.subarray(pos, pos + n));
          pos += n;
          for (const e of events) {
            assert.ok(!stopped);
            if (e.type === 'error') {
              assert.doesNotMatch(e.detail, /internal/, `case ${i}: ${e.detail}`);
              stopped = true;
              errors++;
            } else if (e.type === 'frame') {
              assert.ok(e.data.length <= max);
              frames++;
            }
          }
          // A partial page, a partial packet, and header pages while OpusTags is incomplete.
          assert.ok(r.bufferedBytes <= 2 * 65_307 + 2 * max, `case ${i}: ${r.bufferedBytes}`);
        }
      }
      assert.ok(errors > 500 && frames > 10_000, `${errors} errors, ${frames} frames`);
    });
  });
});
