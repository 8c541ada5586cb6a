// The test signal fed to the fake microphone, and how a listener's audio is located in it.
//
// The WAV is a 997 Hz tone whose level jumps to a pseudo-random value every 40 ms. Decoded audio
// (the browser's recording, or what a listener received) is reduced to a level envelope (dB, 10 ms
// windows every 1 ms); the offset between two envelopes is the lag with the highest Pearson
// correlation. Pure functions, no I/O except writeTestWav().
import { writeFileSync } from 'node:fs';

export const SAMPLE_RATE = 48000;
/** Level changes every this many ms. */
export const LEVEL_BLOCK_MS = 40;
/** Envelope: one value per HOP samples, each the mean power of WINDOW samples. */
export const ENV_HOP = 48; // 1 ms
export const ENV_WINDOW = 480; // 10 ms

import { mulberry32 } from '../test/helpers/prng.js';

export { mulberry32 };

/** 16-bit stereo PCM WAV of the test signal. */
export function testWav(seconds: number, seed = 0x1ce5): Buffer {
  const frames = Math.round(seconds * SAMPLE_RATE);
  const channels = 2;
  const data = Buffer.alloc(frames * channels * 2);
  const rnd = mulberry32(seed);
  const block = (SAMPLE_RATE * LEVEL_BLOCK_MS) / 1000;
  const ramp = 48; // 1 ms between levels: no clicks
  let prev = 0;
  let level = 0;
  for (let i = 0; i < frames; i++) {
    if (i % block === 0) {
      prev = level;
      level = 10 ** ((-6 - 30 * rnd()) / 20); // -6 .. -36 dBFS
    }
    const inBlock = i % block;
    const amp = inBlock < ramp ? prev + ((level - prev) * inBlock) / ramp : level;
    const s = Math.round(amp * Math.sin((2 * Math.PI * 997 * i) / SAMPLE_RATE) * 32767);
    data.writeInt16LE(s, i * 4);
    data.writeInt16LE(s, i * 4 + 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8, 'latin1');
  header.write('fmt ', 12, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(SAMPLE_RATE, 24);
  header.writeUInt32LE(SAMPLE_RATE * channels * 2, 28);
  header.writeUInt16LE(channels * 2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

export function writeTestWav(path: string, seconds: number): void {
  writeFileSync(path, testWav(seconds));
}

/** Level envelope of mono PCM in dB: value i is the power of samples [i*HOP, i*HOP + WINDOW). */
export function envelopeDb(pcm: Float32Array, hop = ENV_HOP, window = ENV_WINDOW): Float32Array {
  const n = pcm.length < window ? 0 : Math.floor((pcm.length - window) / hop) + 1;
  const env = new Float32Array(n);
  // running sum of squares over the window
  const sq = new Float64Array(pcm.length + 1);
  for (let i = 0; i < pcm.length; i++) sq[i + 1] = sq[i]! + pcm[i]! * pcm[i]!;
  for (let i = 0; i < n; i++) {
    const a = i * hop;
    const p = (sq[a + window]! - sq[a]!) / window;
    env[i] = 10 * Math.log10(p + 1e-10);
  }
  return env;
}

/**
 * Pearson correlation of lis[i] with src[i + lag] over i in [from, to) (clipped to where both
 * exist), every `step`-th i. NaN when fewer than 50 points overlap or either side is flat.
 */
export function correlationAt(src: Float32Array, lis: Float32Array, lag: number, from: number, to: number, step: number): number {
  const i0 = Math.max(from, -lag, 0);
  const i1 = Math.min(to, lis.length, src.length - lag);
  let n = 0;
  let sa = 0;
  let sb = 0;
  let saa = 0;
  let sbb = 0;
  let sab = 0;
  for (let i = i0; i < i1; i += step) {
    const a = lis[i]!;
    const b = src[i + lag]!;
    n++;
    sa += a;
    sb += b;
    saa += a * a;
    sbb += b * b;
    sab += a * b;
  }
  if (n < 50) return NaN;
  const cov = sab - (sa * sb) / n;
  const va = saa - (sa * sa) / n;
  const vb = sbb - (sb * sb) / n;
  if (va <= 1e-9 || vb <= 1e-9) return NaN;
  return cov / Math.sqrt(va * vb);
}

export interface LagFit {
  /** Listener envelope index i corresponds to source envelope index i + lag. */
  readonly lag: number;
  readonly r: number;
}

/** Best lag in [lagMin, lagMax] (envelope units) stepping lagStep, scoring every sampleStep-th point. */
export function bestLag(src: Float32Array, lis: Float32Array, lagMin: number, lagMax: number, lagStep: number, from: number, to: number, sampleStep: number): LagFit {
  let best: LagFit = { lag: 0, r: -Infinity };
  for (let lag = lagMin; lag <= lagMax; lag += lagStep) {
    const r = correlationAt(src, lis, lag, from, to, sampleStep);
    if (r > best.r) best = { lag, r };
  }
  return best;
}

/** Global lag: coarse (10 ms) over a wide range, then 1 ms around the best. */
export function globalLag(src: Float32Array, lis: Float32Array, lagMin: number, lagMax: number): LagFit {
  const coarse = bestLag(src, lis, lagMin, lagMax, 10, 0, lis.length, 10);
  if (!Number.isFinite(coarse.r)) return coarse;
  return bestLag(src, lis, coarse.lag - 12, coarse.lag + 12, 1, 0, lis.length, 2);
}

export interface SegmentLag extends LagFit {
  readonly from: number;
  readonly to: number;
}

/**
 * The lag per listener segment (segment envelope points long), searched within ±range of the
 * global lag: follows a stream that dropped or gained audio part way. Segments whose best
 * correlation is below minR are left out.
 */
export function segmentLags(src: Float32Array, lis: Float32Array, global: number, segment: number, range: number, minR: number): SegmentLag[] {
  const out: SegmentLag[] = [];
  for (let from = 0; from < lis.length; from += segment) {
    const to = Math.min(lis.length, from + segment);
    if (to - from < segment / 2) break;
    const fit = bestLag(src, lis, global - range, global + range, 1, from, to, 2);
    if (Number.isFinite(fit.r) && fit.r >= minR) out.push({ ...fit, from, to });
  }
  return out;
}

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export const median = (v: readonly number[]): number => quantile(v, 0.5);
