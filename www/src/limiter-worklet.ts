// The master limiter on the audio thread (AudioWorkletGlobalScope): bundled on its own into
// /js/limiter-worklet.js and loaded with audioWorklet.addModule(). The DSP is limiter-core.ts.
import { TruePeakLimiter } from './limiter-core.js';

// The worklet scope's globals (not in the DOM lib).
declare const sampleRate: number;
declare function registerProcessor(name: string, ctor: new (options: { processorOptions?: unknown }) => object): void;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: unknown);
}

interface Options { ceilingDb?: number; lookaheadMs?: number; releaseMs?: number; channels?: number }

class LimiterProcessor extends AudioWorkletProcessor {
  private readonly limiter: TruePeakLimiter;
  private frames = 0;
  private readonly reportEvery: number;

  constructor(options: { processorOptions?: unknown }) {
    super(options);
    const o = (options.processorOptions ?? {}) as Options;
    this.limiter = new TruePeakLimiter({ sampleRate, channels: o.channels ?? 2, ceilingDb: o.ceilingDb ?? -1.5, lookaheadMs: o.lookaheadMs ?? 5, releaseMs: o.releaseMs ?? 150 });
    this.reportEvery = Math.round(sampleRate / 10);
  }

  process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const out = outputs[0];
    if (out === undefined || out.length === 0) return true;
    this.limiter.process(inputs[0] ?? [], out);
    this.frames += out[0]!.length;
    if (this.frames >= this.reportEvery) {
      this.frames = 0;
      this.port.postMessage({ gainReductionDb: this.limiter.takeGainReductionDb() });
    }
    return true;
  }
}

registerProcessor('icewire-limiter', LimiterProcessor);
