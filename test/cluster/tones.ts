// What a listener heard, told apart by tone: the fallback loop is an 880 Hz chime, the shows are
// a 440 Hz fixture or Chromium's fake microphone (400 Hz beeps). Decoding is ffmpeg's.
import { spawn } from 'node:child_process';

/** Decode a capture (anything ffmpeg reads from a pipe) to mono 48 kHz samples. */
export function decodeMono(data: Buffer): Promise<Float32Array> {
  return new Promise((resolve, reject) => {
    const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', 'pipe:0', '-ac', '1', '-ar', '48000', '-f', 'f32le', 'pipe:1'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    ff.stdout.on('data', (c: Buffer) => out.push(c));
    ff.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    ff.stdin.on('error', () => undefined); // ffmpeg may stop reading a broken tail
    ff.once('error', reject);
    ff.once('close', (code) => {
      const all = Buffer.concat(out);
      if (all.length === 0 && code !== 0) { reject(new Error(`ffmpeg could not decode the capture: ${err.trim()}`)); return; }
      const aligned = Buffer.from(all.subarray(0, all.length - (all.length % 4)));
      resolve(new Float32Array(aligned.buffer, aligned.byteOffset, aligned.length / 4));
    });
    ff.stdin.end(data);
  });
}

export interface Window { readonly share: number; readonly rmsDb: number }

/**
 * Per window of `windowS` seconds: the share of the window's energy at `hz` (Goertzel; 1 for a
 * pure tone at hz, about 0 without one) and its RMS level in dBFS.
 */
export function toneWindows(samples: Float32Array, hz: number, windowS: number, rate = 48000): Window[] {
  const n = Math.round(windowS * rate);
  const coeff = 2 * Math.cos((2 * Math.PI * hz) / rate);
  const out: Window[] = [];
  for (let start = 0; start + n <= samples.length; start += n) {
    let s1 = 0;
    let s2 = 0;
    let energy = 0;
    for (let i = start; i < start + n; i++) {
      const x = samples[i]!;
      energy += x * x;
      const s0 = x + coeff * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    out.push({ share: energy > 0 ? (2 * power) / (n * energy) : 0, rmsDb: 10 * Math.log10(energy / n + 1e-12) });
  }
  return out;
}

export type Heard = 'fallback' | 'show' | 'quiet';

/** A window (or a whole chain) as what a person would call it. */
export function label(w: Window): Heard {
  if (w.rmsDb < -55) return 'quiet';
  // The ident is a steady tone (share near 1 in a window); the shows have none at its frequency
  // (0.00); a window straddling a switch lands in between.
  return w.share > 0.2 ? 'fallback' : 'show';
}

/** The whole of a decoded piece as one window. */
export function wholeWindow(samples: Float32Array, hz: number): Window {
  return toneWindows(samples, hz, samples.length / 48000)[0] ?? { share: 0, rmsDb: -120 };
}

/** Byte ranges of the chains of an Ogg capture: each starts at a BOS page. */
export function oggChains(buf: Buffer): Buffer[] {
  const starts: number[] = [];
  let at = buf.indexOf('OggS');
  while (at >= 0 && at + 27 <= buf.length) {
    if ((buf[at + 5]! & 0x02) !== 0 && (starts.length === 0 || !isBosRun(buf, starts[starts.length - 1]!, at))) starts.push(at);
    const segs = buf[at + 26]!;
    let body = 0;
    for (let i = 0; i < segs && at + 27 + i < buf.length; i++) body += buf[at + 27 + i]!;
    at = buf.indexOf('OggS', at + 27 + segs + body);
  }
  return starts.map((s, i) => buf.subarray(s, starts[i + 1] ?? buf.length));
}

/** True when only BOS pages lie between `from` and `to` (one chain with several streams). */
function isBosRun(buf: Buffer, from: number, to: number): boolean {
  let at = from;
  while (at < to) {
    if ((buf[at + 5]! & 0x02) === 0) return false;
    const segs = buf[at + 26]!;
    let body = 0;
    for (let i = 0; i < segs; i++) body += buf[at + 27 + i]!;
    at += 27 + segs + body;
  }
  return true;
}

/** Collapse runs: ['show','show','quiet','fallback'] -> ['show','quiet','fallback']. */
export function runs(labels: Heard[]): Heard[] {
  return labels.filter((l, i) => i === 0 || labels[i - 1] !== l);
}
