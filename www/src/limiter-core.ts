// The master limiter's DSP: a look-ahead, true-peak brickwall limiter on plain Float32Arrays.
// No Web Audio here: the AudioWorklet (limiter-worklet.ts) runs it on the audio thread, and unit
// tests run it on generated signals.
//
// How it guarantees the ceiling: each input sample gets a target gain t = min(1, ceiling / peak),
// where peak is the larger of the sample and the inter-sample peaks next to it (4x oversampled
// with a windowed-sinc interpolator, i.e. a true-peak estimate). The gain actually applied is a
// moving average, over L samples, of the minimum of t over the last L samples (with a release
// that only ever lowers it). Every value averaged for the sample L-1 back has that sample's t
// inside its minimum window, so the average is at most that t: delaying the audio by L-1 (plus
// the interpolator's look-ahead) makes the limiter reach its gain before the peak arrives, with
// a smooth (linear-in-time) attack and no overshoot.

export interface LimiterOptions {
  sampleRate: number;
  channels: number;
  /** Highest true peak let through, dBFS (dBTP). */
  ceilingDb?: number;
  /** Look-ahead and attack time. */
  lookaheadMs?: number;
  /** Time for the gain to recover most (1 - 1/e) of the way back to unity. */
  releaseMs?: number;
}

/** Taps on each side of the interpolated point. */
const HALF_TAPS = 8;
const OVERSAMPLE = 4;

/** Windowed-sinc interpolation filters for the fractional positions 1/4, 2/4, 3/4. */
function interpolationPhases(): Float64Array[] {
  const phases: Float64Array[] = [];
  for (let p = 1; p < OVERSAMPLE; p++) {
    const frac = p / OVERSAMPLE;
    const taps = new Float64Array(2 * HALF_TAPS);
    let sum = 0;
    for (let k = 0; k < 2 * HALF_TAPS; k++) {
      // Tap k weighs the sample at offset (k - HALF_TAPS + 1) from the left neighbour.
      const x = k - HALF_TAPS + 1 - frac;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      // Blackman window over the span of the filter.
      const w = 0.42 + 0.5 * Math.cos((Math.PI * x) / HALF_TAPS) + 0.08 * Math.cos((2 * Math.PI * x) / HALF_TAPS);
      taps[k] = sinc * w;
      sum += taps[k]!;
    }
    for (let k = 0; k < taps.length; k++) taps[k]! /= sum;
    phases.push(taps);
  }
  return phases;
}

export class TruePeakLimiter {
  readonly ceiling: number;
  /** Samples between a sample entering and leaving (for latency reporting). */
  readonly latency: number;
  private readonly channels: number;
  private readonly lookahead: number;
  private readonly releaseCoef: number;
  private readonly phases = interpolationPhases();
  /** Recent input per channel for the interpolator: 2 * HALF_TAPS samples, ring. */
  private readonly history: Float64Array[];
  private histPos = 0;
  /** Delayed audio per channel, ring of `latency + 1`. */
  private readonly delay: Float32Array[];
  private delayPos = 0;
  /** Sliding minimum of target gains over `lookahead` samples (monotonic deque in rings). */
  private readonly minVals: Float64Array;
  private readonly minIdx: Float64Array;
  private minHead = 0;
  private minTail = 0;
  private sampleIndex = 0;
  private released = 1;
  /** Moving average of the released gain over `lookahead` samples. */
  private readonly box: Float64Array;
  private boxPos = 0;
  private boxSum: number;
  private lowestGainSinceRead = 1;

  constructor(opts: LimiterOptions) {
    this.channels = Math.max(1, opts.channels);
    this.ceiling = 10 ** ((opts.ceilingDb ?? -1.5) / 20);
    this.lookahead = Math.max(1, Math.round(((opts.lookaheadMs ?? 5) / 1000) * opts.sampleRate));
    this.releaseCoef = 1 - Math.exp(-1 / (((opts.releaseMs ?? 150) / 1000) * opts.sampleRate));
    this.latency = HALF_TAPS + this.lookahead - 1;
    this.history = Array.from({ length: this.channels }, () => new Float64Array(2 * HALF_TAPS));
    this.delay = Array.from({ length: this.channels }, () => new Float32Array(this.latency + 1));
    this.minVals = new Float64Array(this.lookahead + 1);
    this.minIdx = new Float64Array(this.lookahead + 1);
    this.box = new Float64Array(this.lookahead).fill(1);
    this.boxSum = this.lookahead;
  }

  /** The deepest gain reduction since the last call, in dB (0 = none). */
  takeGainReductionDb(): number {
    const g = this.lowestGainSinceRead;
    this.lowestGainSinceRead = 1;
    return g >= 1 ? 0 : 20 * Math.log10(g);
  }

  /**
   * Limit one block. `input[c]` may be missing (silence) or shorter than `output[c]`; channels
   * beyond `input.length` repeat the last one given (mono in, stereo out).
   */
  process(input: readonly (Float32Array | undefined)[], output: Float32Array[]): void {
    const frames = output[0]?.length ?? 0;
    const n = this.channels;
    const hLen = 2 * HALF_TAPS;
    const dLen = this.latency + 1;
    for (let i = 0; i < frames; i++) {
      // 1. Take the new sample into the interpolator history; find the true peak of the sample
      //    HALF_TAPS - 1 back (its right neighbours are now known).
      this.histPos = (this.histPos + 1) % hLen;
      let peak = 0;
      for (let c = 0; c < n; c++) {
        const src = input[Math.min(c, input.length - 1)];
        const x = src !== undefined && i < src.length ? src[i]! : 0;
        const h = this.history[c]!;
        h[this.histPos] = x;
        // Oldest sample in history sits at histPos + 1; the left neighbour of the point being
        // judged is HALF_TAPS - 1 samples after it.
        const left = h[(this.histPos + HALF_TAPS) % hLen]!;
        let p = Math.abs(left);
        for (const taps of this.phases) {
          let acc = 0;
          for (let k = 0; k < hLen; k++) acc += taps[k]! * h[(this.histPos + 1 + k) % hLen]!;
          const a = Math.abs(acc);
          if (a > p) p = a;
        }
        if (p > peak) peak = p;
        this.delay[c]![this.delayPos] = x;
      }
      const target = peak > this.ceiling ? this.ceiling / peak : 1;

      // 2. Sliding minimum of the targets over the look-ahead window.
      const idx = this.sampleIndex++;
      const cap = this.minVals.length;
      while (this.minTail !== this.minHead && this.minVals[(this.minTail - 1 + cap) % cap]! >= target) {
        this.minTail = (this.minTail - 1 + cap) % cap;
      }
      this.minVals[this.minTail] = target;
      this.minIdx[this.minTail] = idx;
      this.minTail = (this.minTail + 1) % cap;
      while (this.minIdx[this.minHead]! <= idx - this.lookahead) this.minHead = (this.minHead + 1) % cap;
      const held = this.minVals[this.minHead]!;

      // 3. Release (only ever towards unity, never above the held minimum), then smooth.
      this.released = Math.min(held, this.released + (1 - this.released) * this.releaseCoef);
      this.boxSum += this.released - this.box[this.boxPos]!;
      this.box[this.boxPos] = this.released;
      this.boxPos = (this.boxPos + 1) % this.lookahead;
      const gain = Math.min(1, this.boxSum / this.lookahead);
      if (gain < this.lowestGainSinceRead) this.lowestGainSinceRead = gain;

      // 4. Output the sample `latency` back with that gain.
      const readPos = (this.delayPos + 1) % dLen;
      for (let c = 0; c < output.length; c++) {
        const d = this.delay[Math.min(c, n - 1)]!;
        output[c]![i] = d[readPos]! * gain;
      }
      this.delayPos = readPos;
    }
  }
}
