// The studio's mixer: a Web Audio graph with channels (microphone or line-in, two decks, the cart
// wall, and any other MediaStream such as a guest), a crossfader between the decks, talk-over
// ducking, a master bus through a true-peak limiter into one MediaStreamDestination (the stream
// the one MediaRecorder records, so sources come and go without touching the recording), and a
// cue bus for headphones. It builds nodes through the small AudioGraph interface below, so the
// routing is unit-tested with a recording fake; the page never wires nodes itself.
//
// Per channel:  sources -> input -> [voice compressor] -> fader -> onOff -> duck -> xfade -> master bus
//                            \-> cueSend -> cue bus                               \-> meter
// Master:       master bus -> 18 kHz low-pass -> limiter -> out -> stream destination (recorded)
//                                          \-> master meter (what is sent), monitor (off by default)

/** The part of BaseAudioContext the mixer uses (an AudioContext, or a fake in tests). */
export interface AudioGraph {
  readonly currentTime: number;
  readonly sampleRate: number;
  createGain(): GainNode;
  createAnalyser(): AnalyserNode;
  createDynamicsCompressor(): DynamicsCompressorNode;
  createBiquadFilter(): BiquadFilterNode;
  createMediaStreamSource(stream: MediaStream): MediaStreamAudioSourceNode;
  createMediaStreamDestination(): MediaStreamAudioDestinationNode;
  readonly destination: AudioNode;
}

/** A DynamicsCompressorNode set to these values (dB, dB, ratio, seconds, seconds). */
function compressor(graph: Pick<AudioGraph, 'createDynamicsCompressor'>, p: { threshold: number; knee: number; ratio: number; attack: number; release: number }): DynamicsCompressorNode {
  const c = graph.createDynamicsCompressor();
  c.threshold.value = p.threshold;
  c.knee.value = p.knee;
  c.ratio.value = p.ratio;
  c.attack.value = p.attack;
  c.release.value = p.release;
  return c;
}

export type ChannelKind = 'mic' | 'deck' | 'cart' | 'stream';

export interface ChannelSpec {
  id: string;
  kind: ChannelKind;
  label: string;
  /** Ducked while the talk-over is on (decks by default; not the mic itself). */
  ducked?: boolean;
  /** 'A' or 'B': this channel follows that side of the crossfader. */
  crossfade?: 'A' | 'B';
  gainDb?: number;
}

export interface DuckingSettings {
  enabled: boolean;
  /** How far ducked channels go down, dB (positive number). */
  depthDb: number;
  attackMs: number;
  releaseMs: number;
}

export const DEFAULT_DUCKING: DuckingSettings = { enabled: true, depthDb: 12, attackMs: 150, releaseMs: 800 };

/** Gain of one side of the crossfader at position x (-1 = all A, 0 = middle, 1 = all B): constant power. */
export function crossfadeGain(side: 'A' | 'B', x: number): number {
  const p = (Math.min(1, Math.max(-1, x)) + 1) / 2; // 0..1
  const g = side === 'A' ? Math.cos((p * Math.PI) / 2) : Math.sin((p * Math.PI) / 2);
  return g < 1e-9 ? 0 : g; // cos(π/2) is 6e-17, not the silence an end of the fader means
}

export function dbToGain(db: number): number {
  return db <= -90 ? 0 : 10 ** (db / 20);
}

export function gainToDb(g: number): number {
  return g <= 0 ? -Infinity : 20 * Math.log10(g);
}

/**
 * Time constant for setTargetAtTime so that a change is ~95 % done after `ms` (three time
 * constants), which is what people mean by an attack or release time.
 */
export function timeConstant(ms: number): number {
  return Math.max(0.001, ms / 1000 / 3);
}

/** Where the master is band-limited before the limiter (see Mixer.bandLimit). */
export const MASTER_BAND_LIMIT_HZ = 18_500;

/** Ramps for on/off switches: short enough to feel instant, long enough not to click. */
const SWITCH_S = 0.015;

export class MixerChannel {
  readonly input: GainNode;
  readonly fader: GainNode;
  readonly onOff: GainNode;
  readonly duck: GainNode;
  readonly xfade: GainNode;
  readonly meter: AnalyserNode;
  readonly cueSend: GainNode;
  private compressor: DynamicsCompressorNode | undefined;
  private readonly sources = new Set<AudioNode>();
  private gainDbValue: number;
  private on = true;
  private cued = false;

  constructor(private readonly graph: AudioGraph, readonly spec: ChannelSpec, masterBus: AudioNode, cueBus: AudioNode) {
    this.input = graph.createGain();
    this.fader = graph.createGain();
    this.onOff = graph.createGain();
    this.duck = graph.createGain();
    this.xfade = graph.createGain();
    this.meter = graph.createAnalyser();
    this.meter.fftSize = 2048;
    this.cueSend = graph.createGain();
    this.cueSend.gain.value = 0;
    this.gainDbValue = spec.gainDb ?? 0;
    this.fader.gain.value = dbToGain(this.gainDbValue);
    this.input.connect(this.fader);
    this.fader.connect(this.onOff);
    this.onOff.connect(this.duck);
    this.duck.connect(this.xfade);
    this.xfade.connect(masterBus);
    this.xfade.connect(this.meter);
    this.input.connect(this.cueSend);
    this.cueSend.connect(cueBus);
  }

  get id(): string { return this.spec.id; }
  get gainDb(): number { return this.gainDbValue; }
  get isOn(): boolean { return this.on; }
  get isCued(): boolean { return this.cued; }
  get hasCompressor(): boolean { return this.compressor !== undefined; }

  /** Feed a source into this channel (a MediaStream source, a media element, a buffer source). */
  connectSource(node: AudioNode): void {
    node.connect(this.input);
    this.sources.add(node);
  }

  disconnectSource(node: AudioNode): void {
    if (!this.sources.delete(node)) return;
    try { node.disconnect(this.input); } catch { /* already gone */ }
  }

  setGainDb(db: number): void {
    this.gainDbValue = db;
    this.fader.gain.setTargetAtTime(dbToGain(db), this.graph.currentTime, 0.02);
  }

  /** Open or close the channel (mic on/off, mute, cough): a short ramp, no click. */
  setOn(on: boolean): void {
    this.on = on;
    const t = this.graph.currentTime;
    this.onOff.gain.cancelScheduledValues(t);
    this.onOff.gain.setValueAtTime(this.onOff.gain.value, t);
    this.onOff.gain.linearRampToValueAtTime(on ? 1 : 0, t + SWITCH_S);
  }

  /** Pre-fader listen on the cue (headphones) bus. */
  setCue(on: boolean): void {
    this.cued = on;
    this.cueSend.gain.setTargetAtTime(on ? 1 : 0, this.graph.currentTime, 0.01);
  }

  /** A gentle voice compressor between the input and the fader (for speech; off for music). */
  setCompressor(on: boolean): void {
    if (on === (this.compressor !== undefined)) return;
    if (on) {
      const c = compressor(this.graph, { threshold: -24, knee: 12, ratio: 3, attack: 0.01, release: 0.25 });
      this.input.disconnect(this.fader);
      this.input.connect(c);
      c.connect(this.fader);
      this.compressor = c;
    } else {
      const c = this.compressor!;
      this.input.disconnect(c);
      c.disconnect();
      this.input.connect(this.fader);
      this.compressor = undefined;
    }
  }

  /** Take the channel out of the graph (its sources are disconnected, not stopped). */
  dispose(): void {
    for (const s of this.sources) {
      try { s.disconnect(this.input); } catch { /* already gone */ }
    }
    this.sources.clear();
    for (const n of [this.input, this.fader, this.onOff, this.duck, this.xfade, this.cueSend, this.compressor]) n?.disconnect();
  }
}

export interface MixerOptions {
  /**
   * The master limiter node (an AudioWorkletNode running limiter-worklet.js). Without one the
   * mixer uses a DynamicsCompressorNode as a limiter, which cannot promise the true-peak ceiling.
   */
  limiter?: AudioNode;
  ducking?: DuckingSettings;
}

export class Mixer {
  readonly masterBus: GainNode;
  /**
   * Band-limits the master below the Opus encoder's 20 kHz before the limiter measures it: the
   * encoder's own band-limit of full-band material (a square wave's edges) rings up to 3 dB over
   * the limited peak, measured on Chromium's encoder. Fourth-order Butterworth, two sections.
   */
  readonly bandLimit: [BiquadFilterNode, BiquadFilterNode];
  readonly limiter: AudioNode;
  /** True when the limiter is the true-peak worklet (false: the compressor fallback). */
  readonly truePeak: boolean;
  readonly out: GainNode;
  readonly destination: MediaStreamAudioDestinationNode;
  readonly masterMeter: AnalyserNode;
  readonly cueBus: GainNode;
  readonly cueDestination: MediaStreamAudioDestinationNode;
  readonly monitor: GainNode;
  private readonly channels = new Map<string, MixerChannel>();
  private crossfaderValue = 0;
  private duckingValue: DuckingSettings;
  private talkOver = false;
  private monitorOn = false;

  constructor(private readonly graph: AudioGraph, opts: MixerOptions = {}) {
    this.duckingValue = { ...(opts.ducking ?? DEFAULT_DUCKING) };
    this.masterBus = graph.createGain();
    if (opts.limiter !== undefined) {
      this.limiter = opts.limiter;
      this.truePeak = true;
    } else {
      const c = compressor(graph, { threshold: -6, knee: 0, ratio: 20, attack: 0, release: 0.1 });
      this.limiter = c;
      this.truePeak = false;
    }
    this.out = graph.createGain();
    this.destination = graph.createMediaStreamDestination();
    this.masterMeter = graph.createAnalyser();
    this.masterMeter.fftSize = 2048;
    this.cueBus = graph.createGain();
    this.cueDestination = graph.createMediaStreamDestination();
    this.monitor = graph.createGain();
    this.monitor.gain.value = 0;
    this.bandLimit = [0.5412, 1.3066].map((q) => {
      const f = graph.createBiquadFilter();
      f.type = 'lowpass';
      f.frequency.value = MASTER_BAND_LIMIT_HZ;
      f.Q.value = q;
      return f;
    }) as [BiquadFilterNode, BiquadFilterNode];
    this.masterBus.connect(this.bandLimit[0]);
    this.bandLimit[0].connect(this.bandLimit[1]);
    this.bandLimit[1].connect(this.limiter);
    this.limiter.connect(this.out);
    this.out.connect(this.destination);
    this.out.connect(this.masterMeter);
    // Monitoring the master in the headphones goes through the cue output (never the speakers by
    // default: an open microphone next to them would feed back).
    this.out.connect(this.monitor);
    this.monitor.connect(this.cueBus);
    this.cueBus.connect(this.cueDestination);
  }

  /** The stream the MediaRecorder records: one audio track for the whole show. */
  get stream(): MediaStream {
    return this.destination.stream;
  }

  get ducking(): DuckingSettings {
    return { ...this.duckingValue };
  }

  get crossfader(): number {
    return this.crossfaderValue;
  }

  get isTalkOver(): boolean {
    return this.talkOver;
  }

  get isMonitoring(): boolean {
    return this.monitorOn;
  }

  channel(id: string): MixerChannel | undefined {
    return this.channels.get(id);
  }

  list(): MixerChannel[] {
    return [...this.channels.values()];
  }

  addChannel(spec: ChannelSpec): MixerChannel {
    if (this.channels.has(spec.id)) throw new Error(`mixer channel ${spec.id} exists already`);
    const ch = new MixerChannel(this.graph, { ...spec, ducked: spec.ducked ?? spec.kind === 'deck' }, this.masterBus, this.cueBus);
    this.channels.set(spec.id, ch);
    if (spec.crossfade !== undefined) ch.xfade.gain.value = crossfadeGain(spec.crossfade, this.crossfaderValue);
    if (ch.spec.ducked && this.talkOver && this.duckingValue.enabled) ch.duck.gain.value = dbToGain(-this.duckingValue.depthDb);
    return ch;
  }

  /**
   * A channel fed by a MediaStream's audio (a guest's WebRTC stream, a second input): the
   * returned function takes it out again. The stream's tracks are not stopped.
   */
  addStreamChannel(spec: Omit<ChannelSpec, 'kind'> & { kind?: ChannelKind }, stream: MediaStream): { channel: MixerChannel; remove(): void } {
    const channel = this.addChannel({ kind: 'stream', ...spec });
    const source = this.graph.createMediaStreamSource(stream);
    channel.connectSource(source);
    return { channel, remove: () => this.removeChannel(spec.id) };
  }

  /**
   * Mix-minus for a channel's source (a guest): the show without that channel, so a guest hears
   * the host, the music and the other guests but never their own voice coming back late. It is
   * the master bus plus the channel's own contribution inverted: the same samples in the same
   * render quantum, so the channel cancels exactly, whatever its fader, on/off or ducking. Taken
   * before the master limiter, so a fast limiter of its own keeps it out of clipping. Remove it
   * before the channel.
   */
  addReturnFeed(id: string): { stream: MediaStream; remove(): void } {
    const ch = this.channels.get(id);
    if (ch === undefined) throw new Error(`no mixer channel ${id}`);
    const sum = this.graph.createGain();
    const invert = this.graph.createGain();
    invert.gain.value = -1;
    const safety = compressor(this.graph, { threshold: -3, knee: 0, ratio: 20, attack: 0.001, release: 0.1 });
    const out = this.graph.createMediaStreamDestination();
    this.masterBus.connect(sum);
    ch.xfade.connect(invert);
    invert.connect(sum);
    sum.connect(safety);
    safety.connect(out);
    return {
      stream: out.stream,
      remove: () => {
        try { this.masterBus.disconnect(sum); } catch { /* already gone */ }
        try { ch.xfade.disconnect(invert); } catch { /* already gone */ }
        for (const n of [invert, sum, safety]) n.disconnect();
      },
    };
  }

  removeChannel(id: string): void {
    const ch = this.channels.get(id);
    if (ch === undefined) return;
    ch.dispose();
    this.channels.delete(id);
  }

  setCrossfader(x: number): void {
    this.crossfaderValue = Math.min(1, Math.max(-1, x));
    const t = this.graph.currentTime;
    for (const ch of this.channels.values()) {
      if (ch.spec.crossfade !== undefined) ch.xfade.gain.setTargetAtTime(crossfadeGain(ch.spec.crossfade, this.crossfaderValue), t, 0.02);
    }
  }

  setDucking(d: Partial<DuckingSettings>): void {
    this.duckingValue = { ...this.duckingValue, ...d };
    this.applyDucking();
  }

  /** Talk-over on (the mic is open) or off: ducked channels go down by the depth, then back. */
  setTalkOver(on: boolean): void {
    if (on === this.talkOver) return;
    this.talkOver = on;
    this.applyDucking();
  }

  /** Hear the master (what is sent) on the cue output. */
  setMonitor(on: boolean): void {
    this.monitorOn = on;
    this.monitor.gain.setTargetAtTime(on ? 1 : 0, this.graph.currentTime, 0.01);
  }

  /** Effective gain of a channel on the master (fader x on/off x duck x crossfader), dB. */
  onAirGainDb(id: string): number {
    const ch = this.channels.get(id);
    if (ch === undefined || !ch.isOn) return -Infinity;
    let g = dbToGain(ch.gainDb);
    if (ch.spec.crossfade !== undefined) g *= crossfadeGain(ch.spec.crossfade, this.crossfaderValue);
    return gainToDb(g);
  }

  private applyDucking(): void {
    const d = this.duckingValue;
    const down = this.talkOver && d.enabled;
    const target = down ? dbToGain(-d.depthDb) : 1;
    const tc = timeConstant(down ? d.attackMs : d.releaseMs);
    const t = this.graph.currentTime;
    for (const ch of this.channels.values()) {
      if (!ch.spec.ducked) continue;
      ch.duck.gain.cancelScheduledValues(t);
      ch.duck.gain.setTargetAtTime(target, t, tc);
    }
  }
}
