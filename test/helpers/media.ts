// Test media: fixtures made by ffmpeg once per run, and ffprobe readings of what listeners got.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const FIXTURE_DIR = join(tmpdir(), 'icewire-fixtures-v1');

type FixtureKind = 'audio-webm' | 'video-webm' | 'video-webm-3mbps' | 'audio-ogg';

/** Fixtures being made: cases running at once that want the same file share one ffmpeg (two would race on its .tmp). */
const making = new Map<string, Promise<string>>();

/** `file`, made by `make` once however many cases ask for it at once. */
function madeOnce(file: string, make: () => Promise<string>): Promise<string> {
  let made = making.get(file);
  if (made === undefined) {
    made = make();
    making.set(file, made);
    made.catch(() => making.delete(file));
  }
  return made;
}

/** Uploads that are not a browser's WebM/Ogg Opus: Safari's and Chromium's MP4, and what desktop source clients send. */
const OTHER_FIXTURES = {
  // fragmented like Safari's MediaRecorder output (the moov first, then moof+mdat fragments)
  'aac-mp4': { ext: 'mp4', args: ['-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4'] },
  // Chromium's `audio/mp4;codecs=opus`: Opus in fragments of about 250 ms
  'opus-mp4': { ext: 'mp4', args: ['-c:a', 'libopus', '-b:a', '96k', '-ac', '2', '-frame_duration', '20', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-frag_duration', '250000', '-f', 'mp4'] },
  'mp3': { ext: 'mp3', args: ['-c:a', 'libmp3lame', '-b:a', '128k', '-ac', '2', '-ar', '44100', '-f', 'mp3'] },
  'aac-adts': { ext: 'aac', args: ['-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-f', 'adts'] },
  'vorbis-ogg': { ext: 'ogg', args: ['-c:a', 'libvorbis', '-b:a', '128k', '-ac', '2', '-f', 'ogg'] },
  'flac-ogg': { ext: 'ogg', args: ['-c:a', 'flac', '-ac', '2', '-f', 'ogg'] },
} as const;
export type OtherFixture = keyof typeof OTHER_FIXTURES;

/** A test tone (440 Hz) in one of the other upload formats. */
export function uploadFixture(kind: OtherFixture, seconds = 10, frequency = 440): Promise<string> {
  const f = OTHER_FIXTURES[kind];
  const file = join(FIXTURE_DIR, `${kind}-${seconds}s-${frequency}hz.${f.ext}`);
  return madeOnce(file, async () => {
    mkdirSync(FIXTURE_DIR, { recursive: true });
    if (existsSync(file)) return file;
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=${frequency}:sample_rate=48000:duration=${seconds}`, ...f.args, `${file}.tmp`]);
    await run('mv', [`${file}.tmp`, file]);
    return file;
  });
}

/** A WebM/Opus (or VP8+Opus) file as a browser would record it: Opus 48 kHz, short clusters. */
export function fixture(kind: FixtureKind, seconds = 10): Promise<string> {
  const ext = kind === 'audio-ogg' ? 'ogg' : 'webm';
  const file = join(FIXTURE_DIR, `${kind}-${seconds}s.${ext}`);
  return madeOnce(file, () => makeFixture(kind, seconds, file));
}

async function makeFixture(kind: FixtureKind, seconds: number, file: string): Promise<string> {
  mkdirSync(FIXTURE_DIR, { recursive: true });
  if (existsSync(file)) return file;
  const tone = ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`];
  const opus = ['-c:a', 'libopus', '-b:a', '96k', '-ac', '2', '-frame_duration', '20'];
  const args = kind === 'video-webm-3mbps'
    ? ['-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=30:duration=${seconds}`, ...tone, '-map', '0:v', '-map', '1:a',
      '-c:v', 'libvpx', '-b:v', '3M', '-minrate', '3M', '-maxrate', '3M', '-g', '30', '-deadline', 'realtime', '-cpu-used', '8', ...opus, '-cluster_time_limit', '500', '-f', 'webm']
    : kind === 'video-webm'
    ? ['-f', 'lavfi', '-i', `testsrc=size=320x240:rate=30:duration=${seconds}`, ...tone, '-map', '0:v', '-map', '1:a',
      '-c:v', 'libvpx', '-b:v', '500k', '-g', '30', '-deadline', 'realtime', '-cpu-used', '8', ...opus, '-cluster_time_limit', '500', '-f', 'webm']
    : kind === 'audio-ogg' ? [...tone, ...opus, '-f', 'ogg'] : [...tone, ...opus, '-cluster_time_limit', '500', '-f', 'webm'];
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args, `${file}.tmp`]);
  await run('mv', [`${file}.tmp`, file]);
  return file;
}

export interface Probe {
  readonly streams: { codec: string; type: string }[];
  /** Seconds of audio by packet timestamps (first packet to end of last). */
  readonly audioSeconds: number;
  readonly audioPackets: number;
  readonly videoPackets: number;
}

interface FfprobePacket { codec_type?: string; pts_time?: string; duration_time?: string; data_hash?: string }

async function ffprobeJson(file: string, extra: string[]): Promise<{ streams?: { codec_name: string; codec_type: string }[]; packets?: FfprobePacket[] }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', ...extra, '-of', 'json', file], { maxBuffer: 256 * 1024 * 1024 });
  return JSON.parse(stdout) as { streams?: { codec_name: string; codec_type: string }[]; packets?: FfprobePacket[] };
}

/** ffprobe a file or a buffer (written to a temp file). */
export async function probe(media: string | Buffer, formatHint?: string): Promise<Probe> {
  const file = typeof media === 'string' ? media : tempFile(media);
  const hint = formatHint !== undefined ? ['-f', formatHint] : [];
  const j = await ffprobeJson(file, [...hint, '-show_entries', 'stream=codec_name,codec_type:packet=codec_type,pts_time,duration_time']);
  const audio = (j.packets ?? []).filter((p) => p.codec_type === 'audio' && p.pts_time !== undefined);
  let audioSeconds = 0;
  if (audio.length > 0) {
    const first = Number(audio[0]!.pts_time);
    const last = audio[audio.length - 1]!;
    audioSeconds = Number(last.pts_time) + Number(last.duration_time ?? 0) - first;
  }
  return {
    streams: (j.streams ?? []).map((s) => ({ codec: s.codec_name, type: s.codec_type })),
    audioSeconds,
    audioPackets: audio.length,
    videoPackets: (j.packets ?? []).filter((p) => p.codec_type === 'video').length,
  };
}

/** MD5 of every audio packet's payload, in order (zero-transcode checks). */
export async function audioPacketHashes(media: string | Buffer): Promise<string[]> {
  const file = typeof media === 'string' ? media : tempFile(media);
  const j = await ffprobeJson(file, ['-select_streams', 'a:0', '-show_packets', '-show_data_hash', 'md5', '-show_entries', 'packet=data_hash']);
  return (j.packets ?? []).map((p) => p.data_hash ?? '');
}

let tmpDir: string | undefined;
let n = 0;
export function tempFile(data: Buffer, ext = 'bin'): string {
  tmpDir ??= mkdtempSync(join(tmpdir(), 'icewire-test-'));
  const f = join(tmpDir, `capture-${process.pid}-${n++}.${ext}`);
  writeFileSync(f, data);
  return f;
}

/**
 * What a listener got is valid audio: exactly these codecs (sorted), and at least `minSeconds`
 * of audio. Resolves with the probe for further checks.
 */
export async function assertListenerGot(capture: Buffer, codecs: readonly string[], who: string, minSeconds = 5): Promise<Probe> {
  const p = await probe(capture);
  assert.deepEqual(p.streams.map((s) => s.codec).sort(), [...codecs].sort(), `${who} listener's streams`);
  assert.ok(p.audioSeconds >= minSeconds, `${who} listener got ${p.audioSeconds.toFixed(2)} s`);
  return p;
}
