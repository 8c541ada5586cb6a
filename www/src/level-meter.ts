// Live input level: peak and RMS in dBFS per channel, with a held clip light.
// Analysis runs on Web Audio AnalyserNodes (one per channel, after a splitter); the numbers are
// pure functions of the samples so they can be reasoned about apart from the DOM.

export const FLOOR_DB = -60;
/** A sample this close to full scale counts as clipping (digital overs read as 1.0 exactly). */
const CLIP_LEVEL = 0.999;
const CLIP_HOLD_MS = 1500;
const PEAK_HOLD_MS = 1000;
const PEAK_FALL_DB_PER_S = 20;
/** The bar falls back this fast (rises at once), so short sounds stay readable. */
const BAR_FALL_DB_PER_S = 30;

export interface Levels {
  peakDb: number;
  rmsDb: number;
  clipped: boolean;
}

export function toDb(linear: number): number {
  return linear > 0 ? Math.max(FLOOR_DB, 20 * Math.log10(linear)) : FLOOR_DB;
}

export function measure(samples: Float32Array): Levels {
  let peak = 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i] ?? 0;
    const a = Math.abs(v);
    if (a > peak) peak = a;
    sum += v * v;
  }
  const rms = samples.length > 0 ? Math.sqrt(sum / samples.length) : 0;
  return { peakDb: toDb(peak), rmsDb: toDb(rms), clipped: peak >= CLIP_LEVEL };
}

/** Position of a dB value on the meter, 0..1. */
export function meterFraction(db: number): number {
  return Math.min(1, Math.max(0, (db - FLOOR_DB) / -FLOOR_DB));
}

interface ChannelView {
  analyser: AnalyserNode;
  buf: Float32Array<ArrayBuffer>;
  rms: HTMLElement;
  peak: HTMLElement;
  heldPeakDb: number;
  heldAt: number;
  barDb: number;
}

/**
 * Draws into a container (`#level`) that it fills with one bar per channel. The container gets
 * `data-peak-db`, `data-rms-db`, `data-clip` and ARIA meter values, updated a few times a second.
 */
export class LevelMeter {
  private ctx: AudioContext | undefined;
  private source: MediaStreamAudioSourceNode | undefined;
  private channels: ChannelView[] = [];
  private frame = 0;
  private clipUntil = 0;
  private lastAttrAt = 0;
  private lastDrawAt = 0;
  /** Loudest RMS since the attributes were last written (what the readout shows). */
  private rmsSinceAttr = FLOOR_DB;
  private readonly clipEl: HTMLElement;
  private readonly readout: HTMLElement;
  private readonly bars: HTMLElement;

  constructor(private readonly root: HTMLElement) {
    this.bars = root.querySelector<HTMLElement>('.meter-bars') ?? root;
    this.clipEl = root.querySelector<HTMLElement>('.meter-clip') ?? document.createElement('span');
    this.readout = root.querySelector<HTMLElement>('.meter-readout') ?? document.createElement('span');
    this.reset();
  }

  private context(given?: AudioContext): AudioContext {
    if (this.ctx) return this.ctx;
    const ctx = given ?? new AudioContext();
    this.ctx = ctx;
    // Made without a recent click (permission already granted, or the click's activation used
    // up by the permission prompt) the context may start suspended: the next click resumes it.
    let checking = false;
    const resume = (gesture: boolean): void => {
      if (ctx.state !== 'suspended') return;
      void ctx.resume().catch(() => undefined);
      // Still suspended after a click: the audio engine itself did not start (seen in headless
      // Firefox with no sound device). Say so rather than asking for more clicks.
      if (gesture && !checking) {
        checking = true;
        window.setTimeout(() => {
          checking = false;
          if (ctx.state === 'suspended') {
            this.root.dataset['audio'] = 'unavailable';
            this.readout.textContent = 'The level meter cannot start: the browser\'s audio engine is not running. The broadcast is not affected.';
          }
        }, 2000);
      }
    };
    document.addEventListener('pointerdown', () => resume(true));
    document.addEventListener('keydown', () => resume(true));
    ctx.addEventListener('statechange', () => this.showContextState());
    resume(false);
    this.showContextState();
    return ctx;
  }

  private showContextState(): void {
    const state = this.ctx?.state ?? 'none';
    this.root.dataset['audio'] = state;
    if (state === 'suspended') this.readout.textContent = 'Meter paused: click or tap the page to start it';
  }

  /** Start metering a stream's first audio track (replacing any previous one), in `ctx` if given. */
  attach(stream: MediaStream, ctx0?: AudioContext): void {
    this.detach();
    const track = stream.getAudioTracks()[0];
    if (!track) return;
    const ctx = this.context(ctx0);
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const n = Math.min(2, Math.max(1, track.getSettings().channelCount ?? source.channelCount ?? 1));
    const splitter = ctx.createChannelSplitter(n);
    source.connect(splitter);
    this.bars.replaceChildren();
    for (let c = 0; c < n; c++) {
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 2048;
      splitter.connect(analyser, c);
      const bar = document.createElement('div');
      bar.className = 'meter-bar';
      const label = document.createElement('span');
      label.className = 'meter-ch';
      label.textContent = n === 1 ? '' : c === 0 ? 'L' : 'R';
      label.setAttribute('aria-hidden', 'true');
      const lane = document.createElement('div');
      lane.className = 'meter-track';
      const rms = document.createElement('div');
      rms.className = 'meter-rms';
      const peak = document.createElement('div');
      peak.className = 'meter-peak';
      lane.append(rms, peak);
      bar.append(label, lane);
      this.bars.append(bar);
      this.channels.push({ analyser, buf: new Float32Array(analyser.fftSize), rms, peak, heldPeakDb: FLOOR_DB, heldAt: 0, barDb: FLOOR_DB });
    }
    this.source = source;
    this.root.dataset['active'] = 'true';
    const tick = (): void => {
      this.draw();
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  }

  detach(): void {
    cancelAnimationFrame(this.frame);
    this.source?.disconnect();
    this.source = undefined;
    this.channels = [];
    this.reset();
  }

  private reset(): void {
    this.root.dataset['active'] = 'false';
    this.root.dataset['peakDb'] = String(FLOOR_DB);
    this.root.dataset['rmsDb'] = String(FLOOR_DB);
    this.root.dataset['clip'] = 'false';
    this.root.setAttribute('aria-valuenow', String(FLOOR_DB));
    this.root.setAttribute('aria-valuetext', 'No input');
    this.readout.textContent = '—';
    this.clipEl.hidden = true;
    if (this.channels.length === 0 && this.bars !== this.root) {
      this.bars.innerHTML = '<div class="meter-bar"><span class="meter-ch" aria-hidden="true"></span><div class="meter-track"></div></div>';
    }
  }

  private draw(): void {
    const now = performance.now();
    const dt = this.lastDrawAt === 0 ? 0 : Math.min(0.25, (now - this.lastDrawAt) / 1000);
    this.lastDrawAt = now;
    let rmsDb = FLOOR_DB;
    let clipped = false;
    for (const ch of this.channels) {
      ch.analyser.getFloatTimeDomainData(ch.buf);
      const lv = measure(ch.buf);
      if (lv.peakDb >= ch.heldPeakDb) {
        ch.heldPeakDb = lv.peakDb;
        ch.heldAt = now;
      } else if (now - ch.heldAt > PEAK_HOLD_MS) {
        ch.heldPeakDb = Math.max(lv.peakDb, ch.heldPeakDb - PEAK_FALL_DB_PER_S * dt);
      }
      ch.barDb = Math.max(lv.rmsDb, ch.barDb - BAR_FALL_DB_PER_S * dt);
      ch.rms.style.clipPath = `inset(0 ${((1 - meterFraction(ch.barDb)) * 100).toFixed(2)}% 0 0)`;
      ch.peak.style.left = `calc(${(meterFraction(ch.heldPeakDb) * 100).toFixed(2)}% - 2px)`;
      rmsDb = Math.max(rmsDb, lv.rmsDb);
      clipped ||= lv.clipped;
    }
    this.rmsSinceAttr = Math.max(this.rmsSinceAttr, rmsDb);
    if (clipped) this.clipUntil = now + CLIP_HOLD_MS;
    const showClip = now < this.clipUntil;
    this.clipEl.hidden = !showClip;
    // Attributes and text a few times a second: enough for people and tests, cheap for layout.
    if (now - this.lastAttrAt > 250 && this.ctx?.state !== 'suspended') {
      this.lastAttrAt = now;
      const held = Math.max(FLOOR_DB, ...this.channels.map((c) => c.heldPeakDb));
      const rms = this.rmsSinceAttr;
      this.rmsSinceAttr = FLOOR_DB;
      this.root.dataset['peakDb'] = held.toFixed(1);
      this.root.dataset['rmsDb'] = rms.toFixed(1);
      this.root.dataset['clip'] = String(showClip);
      this.root.setAttribute('aria-valuenow', held.toFixed(0));
      const text = held <= FLOOR_DB ? 'silence' : `peak ${held.toFixed(0)} dB, average ${rms.toFixed(0)} dB`;
      this.root.setAttribute('aria-valuetext', showClip ? `${text}, clipping` : text);
      this.readout.textContent = held <= FLOOR_DB ? 'silence' : `${held.toFixed(0)} dB peak · ${rms.toFixed(0)} dB RMS`;
    }
  }
}
