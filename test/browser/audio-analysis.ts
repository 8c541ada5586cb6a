// What the listener got, as numbers: test audio files made with ffmpeg, a capture decoded to PCM,
// tone levels (Goertzel, Hann window) and sample peaks in dBFS.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempFile } from '../helpers/media.js';

const run = promisify(execFile);
export const SAMPLE_RATE = 48000;

let dir: string | undefined;
function outDir(): string {
  dir ??= mkdtempSync(join(tmpdir(), 'icewire-studio-audio-'));
  return dir;
}

/**
 * A test file made by ffmpeg from a lavfi source (`sine=frequency=1000:duration=30`,
 * `aevalsrc=…:d=10`), with tags. The extension picks the format (.mp3, .flac, .ogg, .wav, .m4a).
 */
export async function makeAudioFile(name: string, source: string, tags: Record<string, string> = {}, filter?: string): Promise<string> {
  const path = join(outDir(), name);
  const meta = Object.entries(tags).flatMap(([k, v]) => ['-metadata', `${k}=${v}`]);
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', source,
    ...(filter !== undefined ? ['-af', filter] : []), '-ac', '2', '-ar', '48000', ...meta,
    ...(name.endsWith('.mp3') ? ['-c:a', 'libmp3lame', '-b:a', '192k', '-id3v2_version', '3'] : []),
    path,
  ]);
  return path;
}

/** A capture (Ogg/Opus, MP3 …) decoded to mono 48 kHz float PCM (the left channel). */
export async function decodePcm(media: Buffer): Promise<Float32Array> {
  const { stdout } = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', tempFile(media), '-af', 'pan=mono|c0=c0', '-ar', String(SAMPLE_RATE), '-f', 'f32le', '-'], { encoding: 'buffer', maxBuffer: 512 * 1024 * 1024 });
  const buf = stdout as unknown as Buffer;
  return new Float32Array(buf.buffer, buf.byteOffset, Math.floor(buf.byteLength / 4));
}

/** Amplitude of a tone at `freq` in x[start, start+len), dBFS (a full-scale sine reads 0). */
export function toneDb(x: Float32Array, start: number, len: number, freq: number): number {
  let re = 0;
  let im = 0;
  let wsum = 0;
  for (let i = 0; i < len; i++) {
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (len - 1));
    const v = (x[start + i] ?? 0) * w;
    const ph = (2 * Math.PI * freq * (start + i)) / SAMPLE_RATE;
    re += v * Math.cos(ph);
    im -= v * Math.sin(ph);
    wsum += w;
  }
  const amp = (2 * Math.hypot(re, im)) / wsum;
  return amp > 0 ? 20 * Math.log10(amp) : -200;
}

/** Tone level per window of `windowS` seconds over the whole signal. */
export function toneLevels(x: Float32Array, freq: number, windowS = 0.1): number[] {
  const len = Math.round(windowS * SAMPLE_RATE);
  const out: number[] = [];
  for (let s = 0; s + len <= x.length; s += len) out.push(toneDb(x, s, len, freq));
  return out;
}

export function peakDb(x: Float32Array, from = 0): number {
  let p = 0;
  for (let i = from; i < x.length; i++) p = Math.max(p, Math.abs(x[i]!));
  return p > 0 ? 20 * Math.log10(p) : -200;
}

export function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
}
