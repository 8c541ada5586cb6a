// ffmpeg argv building: the flags each rendition × input combination gets, the bare content
// types Icecast needs, and — once, for real — that every argv runs on ffmpeg 5.1.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RenditionFormat } from '../../server/config/schema.js';
import {
  contentTypeFor, ffmpegArgv, iceAudioInfo, inputOptions, isCopy, outputOptions, type RenditionPlan,
} from '../../server/pipeline/ffmpeg-args.js';
import { parseMime, type InputMedia } from '../../server/pipeline/media-type.js';
import { kindFor } from '../../server/pipeline/rendition-kinds.js';

const run = promisify(execFile);

function media(mime: string): InputMedia {
  const m = parseMime(mime);
  assert.ok(m !== undefined, `test setup: ${mime} must parse`);
  return m;
}

type InputKind = 'audio webm' | 'video webm' | 'ogg' | 'aac mp4';
const INPUTS: Record<InputKind, InputMedia> = {
  'audio webm': media('audio/webm;codecs=opus'),
  'video webm': media('video/webm;codecs=vp8,opus'),
  ogg: media('audio/ogg;codecs=opus'),
  // any upload that is not WebM reaches ffmpeg as the daemon's Ogg/Opus stream
  'aac mp4': media('audio/mp4'),
};

/** What the rendition's ffmpeg reads: the upload as sent (WebM renditions of WebM), else the daemon's Ogg/Opus stream. */
function readsUpload(format: RenditionFormat, bitrate: number | undefined, input: InputMedia): boolean {
  return kindFor({ format, bitrate }, input).feed === 'upload';
}
const INPUT_KINDS = Object.keys(INPUTS) as InputKind[];

function plan(format: RenditionFormat, bitrate?: number): RenditionPlan {
  return { mount: `/test-${format}`, format, bitrate };
}

/** The value after the first occurrence of `flag` at or after `from`. */
function valueAfter(argv: readonly string[], flag: string, from = 0): string | undefined {
  const i = argv.indexOf(flag, from);
  return i < 0 ? undefined : argv[i + 1];
}

function hasPair(argv: readonly string[], flag: string, value: string): boolean {
  return argv.some((a, i) => a === flag && argv[i + 1] === value);
}

/** Per format × bitrate: what every input gets. */
interface FormatRow {
  format: RenditionFormat;
  bitrate: number | undefined;
  audioCodec: 'copy' | 'libopus' | 'libvorbis' | 'libmp3lame';
  /** -b:a value, undefined for a copy */
  bitrateArg: string | undefined;
  muxer: 'ogg' | 'mp3' | 'webm';
  /** extra flag/value pairs this format must carry */
  extra: [string, string][];
}

const FORMAT_ROWS: FormatRow[] = [
  { format: 'ogg-opus', bitrate: undefined, audioCodec: 'copy', bitrateArg: undefined, muxer: 'ogg', extra: [['-page_duration', '20000']] },
  { format: 'ogg-opus', bitrate: 64, audioCodec: 'libopus', bitrateArg: '64k', muxer: 'ogg', extra: [['-page_duration', '20000'], ['-application', 'audio']] },
  { format: 'ogg-vorbis', bitrate: undefined, audioCodec: 'libvorbis', bitrateArg: '128k', muxer: 'ogg', extra: [['-page_duration', '20000']] },
  { format: 'ogg-vorbis', bitrate: 160, audioCodec: 'libvorbis', bitrateArg: '160k', muxer: 'ogg', extra: [['-page_duration', '20000']] },
  { format: 'mp3', bitrate: undefined, audioCodec: 'libmp3lame', bitrateArg: '128k', muxer: 'mp3', extra: [['-id3v2_version', '0'], ['-write_xing', '0']] },
  { format: 'mp3', bitrate: 192, audioCodec: 'libmp3lame', bitrateArg: '192k', muxer: 'mp3', extra: [['-id3v2_version', '0'], ['-write_xing', '0']] },
  { format: 'webm', bitrate: undefined, audioCodec: 'copy', bitrateArg: undefined, muxer: 'webm', extra: [['-live', '1'], ['-cluster_time_limit', '100']] },
  { format: 'webm', bitrate: 48, audioCodec: 'libopus', bitrateArg: '48k', muxer: 'webm', extra: [['-live', '1'], ['-cluster_time_limit', '100']] },
];

const CASES = FORMAT_ROWS.flatMap((row) => INPUT_KINDS.map((kind) => ({ ...row, kind })));

function caseTitle(c: { format: string; bitrate: number | undefined; kind: string }): string {
  return `${c.format}${c.bitrate !== undefined ? `@${c.bitrate}k` : ''} from ${c.kind}`;
}

// Every argv element must come from this vocabulary: the function takes no secrets, and nothing
// from the plan's mount or the client's mime may leak into a process listing.
const FLAGS = new Set([
  '-hide_banner', '-nostdin', '-nostats', '-loglevel', '-f', '-probesize', '-analyzeduration', '-i', '-map', '-vn',
  '-c:a', '-c:v', '-b:a', '-application', '-page_duration', '-flush_packets', '-id3v2_version', '-write_xing',
  '-live', '-cluster_time_limit', '-cluster_size_limit',
]);
const VALUES = new Set([
  'warning', 'matroska', 'ogg', 'mp3', 'webm', '32', '0', '1', '100', '20000', '262144', 'pipe:0', 'pipe:1',
  '0:a:0', '0:v:0', 'copy', 'libopus', 'libvorbis', 'libmp3lame', 'audio',
]);
const BITRATE_VALUE = /^\d{1,3}k$/;

describe('ffmpeg argv', () => {
  describe('flags per rendition × input', () => {
    for (const c of CASES) {
      it(`${caseTitle(c)}: -c:a ${c.audioCodec}${c.bitrateArg ? ` -b:a ${c.bitrateArg}` : ''}, -f ${c.muxer}`, () => {
        const input = INPUTS[c.kind];
        const argv = ffmpegArgv(plan(c.format, c.bitrate), input);
        const out = outputOptions(plan(c.format, c.bitrate), input);

        // low-latency input side
        const inIdx = argv.indexOf('-i');
        const inSide = argv.slice(0, inIdx);
        assert.equal(valueAfter(inSide, '-f'), readsUpload(c.format, c.bitrate, input) ? 'matroska' : 'ogg');
        assert.ok(hasPair(inSide, '-probesize', '32'), '-probesize 32');
        assert.ok(hasPair(inSide, '-analyzeduration', '0'), '-analyzeduration 0');
        assert.ok(inSide.includes('-nostdin'), '-nostdin');
        assert.equal(argv[inIdx + 1], 'pipe:0');
        assert.equal(argv.at(-1), 'pipe:1');
        assert.deepEqual(argv.slice(inIdx), ['-i', 'pipe:0', ...out, 'pipe:1']);
        assert.deepEqual(inSide, inputOptions(readsUpload(c.format, c.bitrate, input) ? input : INPUTS.ogg));

        // output side
        assert.ok(hasPair(out, '-c:a', c.audioCodec), `-c:a ${c.audioCodec} in ${out.join(' ')}`);
        assert.equal(valueAfter(out, '-b:a'), c.bitrateArg);
        assert.equal(valueAfter(out, '-f'), c.muxer);
        assert.equal(out.filter((a) => a === '-f').length, 1, 'one output muxer');
        assert.ok(hasPair(out, '-flush_packets', '1'), '-flush_packets 1');
        assert.ok(hasPair(out, '-map', '0:a:0'), '-map 0:a:0');
        for (const [flag, value] of c.extra) assert.ok(hasPair(out, flag, value), `${flag} ${value}`);

        // WebM renditions of a WebM upload remux it, video and all; of any other upload, its Opus audio
        const videoOut = c.format === 'webm' && input.container === 'webm' && input.video !== undefined;
        if (c.format === 'webm' && input.container === 'webm') {
          assert.ok(!out.includes('-vn'), 'webm keeps video when there is any');
          assert.equal(hasPair(out, '-map', '0:v:0'), videoOut, '-map 0:v:0 only from a video input');
          assert.equal(hasPair(out, '-c:v', 'copy'), videoOut, '-c:v copy only from a video input');
        } else {
          assert.ok(out.includes('-vn'), 'audio renditions drop video (-vn)');
          assert.ok(!out.includes('-c:v'), 'no video codec on an audio rendition');
          assert.ok(!hasPair(out, '-map', '0:v:0'), 'no video map on an audio rendition');
        }
      });
    }
  });

  describe('no secrets, fixed vocabulary', () => {
    for (const c of CASES) {
      it(`${caseTitle(c)}: every argv element is a known flag or value`, () => {
        const secretish = 'hunter2-s3cret';
        const input: InputMedia = { ...INPUTS[c.kind], mime: `${INPUTS[c.kind].mime};password=${secretish}` };
        const argv = ffmpegArgv({ mount: `/${secretish}.ogg`, format: c.format, bitrate: c.bitrate }, input);
        const unknown = argv.filter((a) => !FLAGS.has(a) && !VALUES.has(a) && !BITRATE_VALUE.test(a));
        assert.deepEqual(unknown, []);
        assert.ok(!argv.join(' ').includes(secretish), 'nothing from the mount or the mime reaches argv');
      });
    }
  });

  describe('contentTypeFor (bare types, no parameters)', () => {
    const rows: { format: RenditionFormat; input: InputMedia | undefined; inputName: string; want: string }[] = [
      { format: 'ogg-opus', input: INPUTS['audio webm'], inputName: 'audio webm', want: 'audio/ogg' },
      { format: 'ogg-opus', input: INPUTS['video webm'], inputName: 'video webm', want: 'audio/ogg' },
      { format: 'ogg-vorbis', input: INPUTS.ogg, inputName: 'ogg', want: 'audio/ogg' },
      { format: 'mp3', input: INPUTS['audio webm'], inputName: 'audio webm', want: 'audio/mpeg' },
      { format: 'mp3', input: INPUTS['video webm'], inputName: 'video webm', want: 'audio/mpeg' },
      { format: 'webm', input: INPUTS['video webm'], inputName: 'video webm', want: 'video/webm' },
      { format: 'webm', input: INPUTS['audio webm'], inputName: 'audio webm', want: 'audio/webm' },
      { format: 'webm', input: INPUTS.ogg, inputName: 'ogg', want: 'audio/webm' },
      { format: 'webm', input: undefined, inputName: 'no input yet', want: 'audio/webm' },
    ];
    for (const r of rows) {
      it(`${r.format} from ${r.inputName} -> ${r.want}`, () => {
        const got = contentTypeFor(r.format, r.input);
        assert.equal(got, r.want);
        assert.ok(!/[;\s]/.test(got), 'no parameters (docs/notes/icecast.md: Icecast treats them as an unknown format)');
      });
    }
  });

  describe('isCopy', () => {
    const rows: { format: RenditionFormat; bitrate: number | undefined; want: boolean }[] = [
      { format: 'ogg-opus', bitrate: undefined, want: true },
      { format: 'ogg-opus', bitrate: 96, want: false },
      { format: 'webm', bitrate: undefined, want: true },
      { format: 'webm', bitrate: 96, want: false },
      { format: 'mp3', bitrate: undefined, want: false },
      { format: 'mp3', bitrate: 128, want: false },
      { format: 'ogg-vorbis', bitrate: undefined, want: false },
    ];
    for (const r of rows) {
      it(`${r.format} bitrate=${String(r.bitrate)} -> ${r.want}`, () => {
        assert.equal(isCopy(plan(r.format, r.bitrate)), r.want);
      });
    }
  });

  describe('iceAudioInfo', () => {
    const rows: { format: RenditionFormat; bitrate: number | undefined; want: { bitrate: number | undefined; audioInfo: string } }[] = [
      { format: 'ogg-opus', bitrate: undefined, want: { bitrate: undefined, audioInfo: 'samplerate=48000' } },
      { format: 'webm', bitrate: undefined, want: { bitrate: undefined, audioInfo: 'samplerate=48000' } },
      { format: 'ogg-opus', bitrate: 64, want: { bitrate: 64, audioInfo: 'samplerate=48000;bitrate=64' } },
      { format: 'webm', bitrate: 48, want: { bitrate: 48, audioInfo: 'samplerate=48000;bitrate=48' } },
      { format: 'mp3', bitrate: undefined, want: { bitrate: 128, audioInfo: 'samplerate=48000;bitrate=128' } },
      { format: 'mp3', bitrate: 192, want: { bitrate: 192, audioInfo: 'samplerate=48000;bitrate=192' } },
      { format: 'ogg-vorbis', bitrate: undefined, want: { bitrate: 128, audioInfo: 'samplerate=48000;bitrate=128' } },
    ];
    for (const r of rows) {
      it(`${r.format} bitrate=${String(r.bitrate)} -> ${r.want.audioInfo}`, () => {
        assert.deepEqual(iceAudioInfo(plan(r.format, r.bitrate)), r.want);
      });
    }
  });

  describe('an MP3 upload (a desktop source client)', () => {
    const mp3 = media('audio/mpeg');
    it('an MP3 rendition without a bitrate carries the client\'s frames as sent: no ffmpeg, no claimed rate', () => {
      const k = kindFor({ format: 'mp3', bitrate: undefined }, mp3);
      assert.deepEqual({ name: k.name, feed: k.feed, runsFfmpeg: k.runsFfmpeg, transcodes: k.transcodes }, { name: 'mp3 copy', feed: 'upload', runsFfmpeg: false, transcodes: false });
      assert.deepEqual(iceAudioInfo(plan('mp3'), mp3), { bitrate: undefined, audioInfo: undefined });
    });
    const others: [RenditionFormat, number | undefined][] = [['mp3', 128], ['ogg-opus', undefined], ['ogg-opus', 64], ['ogg-vorbis', undefined], ['webm', undefined]];
    for (const [format, bitrate] of others) {
      it(`${format}${bitrate !== undefined ? `@${bitrate}k` : ''} is made from the Opus master (silence fills its gaps)`, () => {
        assert.notEqual(kindFor({ format, bitrate }, mp3).feed, 'upload');
        assert.equal(valueAfter(ffmpegArgv(plan(format, bitrate), mp3), '-f'), 'ogg');
      });
    }
  });

  describe('real ffmpeg runs every plan', function () {
    this.timeout(15000);
    let dir: string;
    const files = {} as Record<InputKind, string>;

    before(async function () {
      this.timeout(20000);
      dir = mkdtempSync(join(tmpdir(), 'icewire-ffargs-'));
      const tone = ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=2'];
      const opus = ['-c:a', 'libopus', '-b:a', '64k', '-ac', '2'];
      const make = async (kind: InputKind, args: string[], name: string): Promise<void> => {
        files[kind] = join(dir, name);
        await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args, files[kind]]);
      };
      await Promise.all([
        make('audio webm', [...tone, ...opus, '-f', 'webm'], 'audio.webm'),
        make('ogg', [...tone, ...opus, '-f', 'ogg'], 'audio.ogg'),
        make('aac mp4', [...tone, '-c:a', 'aac', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4'], 'audio.mp4'),
        make('video webm', [
          '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=15:duration=2', ...tone, '-map', '0:v', '-map', '1:a',
          '-c:v', 'libvpx', '-b:v', '200k', '-g', '15', '-deadline', 'realtime', '-cpu-used', '8', ...opus, '-f', 'webm',
        ], 'video.webm'),
      ]);
    });

    after(() => {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    });

    /** Run ffmpeg with `argv`, the file piped into stdin; resolves with exit code, output and stderr. */
    function runPiped(argv: string[], file: string): Promise<{ code: number | null; out: Buffer; stderr: string }> {
      return new Promise((resolve, reject) => {
        const child = spawn('ffmpeg', argv, { stdio: ['pipe', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => out.push(d));
        child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
        // An early exit shows up as a non-zero code below; EPIPE on stdin adds nothing to that.
        child.stdin.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'EPIPE') reject(err); });
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, out: Buffer.concat(out), stderr }));
        createReadStream(file).on('error', reject).pipe(child.stdin);
      });
    }

    const MAGIC: Record<FormatRow['muxer'], (b: Buffer) => boolean> = {
      ogg: (b) => b.subarray(0, 4).toString('latin1') === 'OggS',
      webm: (b) => b.readUInt32BE(0) === 0x1a45dfa3,
      // no ID3 tag (-id3v2_version 0): the first bytes are an MPEG audio frame sync
      mp3: (b) => b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0,
    };

    for (const c of CASES) {
      it(`${caseTitle(c)}: exits 0 and writes ${c.muxer}`, async () => {
        const r = await runPiped(ffmpegArgv(plan(c.format, c.bitrate), INPUTS[c.kind]), readsUpload(c.format, c.bitrate, INPUTS[c.kind]) ? files[c.kind] : files.ogg);
        assert.equal(r.code, 0, `ffmpeg failed:\n${r.stderr}`);
        assert.ok(r.out.length > 1000, `only ${r.out.length} bytes of output`);
        assert.ok(MAGIC[c.muxer](r.out), `output does not start like ${c.muxer}: ${r.out.subarray(0, 8).toString('hex')}`);
        if (c.muxer === 'webm') {
          // codec ids in the Tracks element: Opus always, VP8 exactly when the input had video
          assert.ok(r.out.includes('A_OPUS'), 'an Opus track');
          assert.equal(r.out.includes('V_VP8'), INPUTS[c.kind].video !== undefined && INPUTS[c.kind].container === 'webm', 'a VP8 track only from a video input');
        }
        // (mp3: MAGIC already shows -id3v2_version 0 works — without it a pipe starts with "ID3".
        // -write_xing 0 can't be seen here: on a pipe the muxer writes no Xing frame anyway.)
      });
    }
  });
});
