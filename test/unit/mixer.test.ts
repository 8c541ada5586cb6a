// The studio's mixer graph (www/src/mixer.ts) built on a recording fake of Web Audio: which
// source reaches the recorded master, the cue output, the meters; ducking, crossfader, the voice
// compressor, channels added from a MediaStream and taken out again. Also the pure parts around
// it: the true-peak limiter's DSP, the key table and which deck is "on air".
import assert from 'node:assert/strict';
import { DEFAULT_DUCKING, Mixer, crossfadeGain, dbToGain, timeConstant, type AudioGraph } from '../../www/src/mixer.js';
import { TruePeakLimiter } from '../../www/src/limiter-core.js';
import { KEYS, bindingFor } from '../../www/src/keys.js';
import { deckOnAir } from '../../www/src/now-playing.js';
import { tagsFromFileName } from '../../www/src/tags.js';

// ---- a fake Web Audio graph -----------------------------------------------------------------------

class FakeParam {
  value: number;
  readonly calls: string[] = [];
  constructor(v: number) { this.value = v; }
  setTargetAtTime(v: number, _t: number, tc: number): this { this.calls.push(`target ${v.toFixed(4)} tc ${tc.toFixed(4)}`); this.value = v; return this; }
  setValueAtTime(v: number): this { this.value = v; return this; }
  linearRampToValueAtTime(v: number): this { this.calls.push(`ramp ${v}`); this.value = v; return this; }
  cancelScheduledValues(): this { return this; }
}

class FakeNode {
  static all: FakeNode[] = [];
  readonly out = new Set<FakeNode>();
  gain = new FakeParam(1);
  frequency = new FakeParam(350); Q = new FakeParam(1); type = '';
  threshold = new FakeParam(0); knee = new FakeParam(0); ratio = new FakeParam(1); attack = new FakeParam(0); release = new FakeParam(0);
  fftSize = 2048;
  channelCount = 2;
  channelCountMode = 'max';
  stream = { id: 'stream' };
  constructor(readonly kind: string) { FakeNode.all.push(this); }
  connect(n: FakeNode): FakeNode { this.out.add(n); return n; }
  disconnect(n?: FakeNode): void {
    if (n === undefined) this.out.clear();
    else if (!this.out.delete(n)) throw new Error('not connected');
  }
}

function fakeGraph(): AudioGraph & { destination: FakeNode } {
  const g = {
    currentTime: 0,
    sampleRate: 48000,
    destination: new FakeNode('speakers'),
    createGain: () => new FakeNode('gain'),
    createAnalyser: () => new FakeNode('analyser'),
    createDynamicsCompressor: () => new FakeNode('compressor'),
    createBiquadFilter: () => new FakeNode('biquad'),
    createMediaStreamSource: () => new FakeNode('stream-source'),
    createMediaStreamDestination: () => new FakeNode('stream-destination'),
  };
  return g as unknown as AudioGraph & { destination: FakeNode };
}

/** Every path from `from` to `to`, each as the gains' values multiplied (a path through a 0 gain is silent). */
function pathGains(from: unknown, to: unknown): number[] {
  const out: number[] = [];
  const walk = (n: FakeNode, g: number, seen: Set<FakeNode>): void => {
    if (n === to) { out.push(g); return; }
    for (const m of n.out) {
      if (seen.has(m)) continue;
      const factor = m.kind === 'gain' ? m.gain.value : 1;
      walk(m, g * factor, new Set([...seen, m]));
    }
  };
  walk(from as FakeNode, (from as FakeNode).kind === 'gain' ? (from as FakeNode).gain.value : 1, new Set([from as FakeNode]));
  return out;
}

/** Loudest path gain from a node to another, in dB (-Infinity: not connected or silent). */
function routeDb(from: unknown, to: unknown): number {
  const g = Math.max(0, ...pathGains(from, to));
  return g === 0 ? -Infinity : 20 * Math.log10(g);
}

function studio() {
  const graph = fakeGraph();
  const limiter = new FakeNode('limiter-worklet');
  const mixer = new Mixer(graph, { limiter: limiter as unknown as AudioNode });
  const mic = mixer.addChannel({ id: 'mic', kind: 'mic', label: 'Mic' });
  const a = mixer.addChannel({ id: 'deckA', kind: 'deck', label: 'A', crossfade: 'A' });
  const b = mixer.addChannel({ id: 'deckB', kind: 'deck', label: 'B', crossfade: 'B' });
  const cart = mixer.addChannel({ id: 'cart', kind: 'cart', label: 'Cart' });
  return { graph, limiter, mixer, mic, a, b, cart };
}

const near = (actual: number, expected: number, tol = 0.01, what = ''): void => {
  assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} ≈ ${expected}`);
};

// ---- tests ----------------------------------------------------------------------------------------

describe('studio mixer routing (www/src/mixer.ts)', () => {
  it('every channel reaches the recorded stream through the limiter, and only through it', () => {
    const { mixer, limiter, mic, a, b, cart } = studio();
    for (const ch of [mic, a, b, cart]) {
      assert.ok(routeDb(ch.input, mixer.destination) > -Infinity || ch.spec.crossfade !== undefined, `${ch.id} reaches the master`);
      assert.ok(pathGains(ch.input, limiter).length > 0, `${ch.id} goes through the limiter`);
      // No way round it: cut the limiter out and nothing of this channel reaches the recording.
      const saved = [...(limiter as unknown as FakeNode).out];
      (limiter as unknown as FakeNode).out.clear();
      assert.deepEqual(pathGains(ch.input, mixer.destination), [], `${ch.id} has no path around the limiter`);
      for (const n of saved) (limiter as unknown as FakeNode).out.add(n);
    }
    assert.equal(mixer.truePeak, true);
    // Band-limited before the limiter measures it.
    assert.deepEqual(mixer.bandLimit.map((f) => [(f as unknown as FakeNode).type, f.frequency.value]), [['lowpass', 18500], ['lowpass', 18500]]);
    assert.ok(pathGains(mixer.masterBus, mixer.bandLimit[1]).length === 1 && (mixer.bandLimit[1] as unknown as FakeNode).out.has(limiter));
    // The master meter shows what is sent (after the limiter).
    assert.ok(pathGains(limiter, mixer.masterMeter).length > 0);
    assert.deepEqual(pathGains(mixer.masterBus, mixer.masterMeter).length, 1, 'the meter hangs off the limiter output');
  });

  it('nothing reaches the speakers; the master reaches the cue output only while monitoring', () => {
    const { graph, mixer, mic } = studio();
    assert.deepEqual(pathGains(mic.input, graph.destination), [], 'an open mic never feeds the speakers');
    assert.equal(routeDb(mixer.out, mixer.cueDestination), -Infinity);
    mixer.setMonitor(true);
    near(routeDb(mixer.out, mixer.cueDestination), 0, 0.01, 'monitor');
    mixer.setMonitor(false);
    assert.equal(routeDb(mixer.out, mixer.cueDestination), -Infinity);
  });

  it('cue is pre-fader and never on air', () => {
    const { mixer, a } = studio();
    assert.equal(routeDb(a.input, mixer.cueDestination), -Infinity, 'cue off by default');
    a.setCue(true);
    a.setOn(false);
    a.setGainDb(-40);
    near(routeDb(a.input, mixer.cueDestination), 0, 0.01, 'pre-fader cue at unity whatever the fader');
    assert.ok(pathGains(mixer.cueBus, mixer.destination).length === 0, 'the cue bus does not reach the recording');
  });

  it('crossfader: constant power; the ends cut the other deck', () => {
    const { mixer, a, b } = studio();
    near(routeDb(a.input, mixer.destination), -3.01, 0.02, 'A in the middle');
    near(routeDb(b.input, mixer.destination), -3.01, 0.02, 'B in the middle');
    mixer.setCrossfader(-1);
    near(routeDb(a.input, mixer.destination), 0, 0.01, 'A at the A end');
    assert.equal(routeDb(b.input, mixer.destination), -Infinity, 'B cut at the A end');
    mixer.setCrossfader(1);
    assert.equal(routeDb(a.input, mixer.destination), -Infinity);
    for (let x = -1; x <= 1; x += 0.25) near(crossfadeGain('A', x) ** 2 + crossfadeGain('B', x) ** 2, 1, 1e-9, `power at ${x}`);
    mixer.setCrossfader(5);
    assert.equal(mixer.crossfader, 1, 'clamped');
    near(mixer.onAirGainDb('deckB'), 0);
    assert.equal(mixer.onAirGainDb('deckA'), -Infinity);
  });

  it('talk-over ducks the decks (not the mic, not the cart) by the depth, with the attack and release times', () => {
    const { mixer, mic, a, b, cart } = studio();
    mixer.setCrossfader(-1);
    mixer.setTalkOver(true);
    near(routeDb(a.input, mixer.destination), -DEFAULT_DUCKING.depthDb, 0.01, 'deck A ducked');
    near(routeDb(mic.input, mixer.destination), 0, 0.01, 'mic not ducked');
    near(routeDb(cart.input, mixer.destination), 0, 0.01, 'cart not ducked');
    assert.match((a.duck.gain as unknown as FakeParam).calls.at(-1)!, new RegExp(`tc ${timeConstant(DEFAULT_DUCKING.attackMs).toFixed(4)}$`), 'attack time');
    assert.match((b.duck.gain as unknown as FakeParam).calls.at(-1)!, /^target 0\.2512/);
    mixer.setTalkOver(false);
    near(routeDb(a.input, mixer.destination), 0, 0.01, 'recovered');
    assert.match((a.duck.gain as unknown as FakeParam).calls.at(-1)!, new RegExp(`^target 1\\.0000 tc ${timeConstant(DEFAULT_DUCKING.releaseMs).toFixed(4)}$`), 'release time');
    mixer.setDucking({ depthDb: 20, enabled: true });
    mixer.setTalkOver(true);
    near(routeDb(a.input, mixer.destination), -20, 0.01, 'new depth');
    mixer.setDucking({ enabled: false });
    near(routeDb(a.input, mixer.destination), 0, 0.01, 'ducking off');
    near(timeConstant(300), 0.1, 1e-12, 'a 300 ms attack is three 100 ms time constants');
  });

  it('on/off (mic key, cough) and the fader act on the way to the master only', () => {
    const { mixer, mic } = studio();
    mic.setOn(false);
    assert.equal(routeDb(mic.input, mixer.destination), -Infinity);
    assert.equal(routeDb(mic.input, mic.meter), -Infinity, 'the channel meter shows what the channel sends');
    mic.setOn(true);
    mic.setGainDb(-6);
    near(routeDb(mic.input, mixer.destination), -6, 0.01);
    near(dbToGain(-6), 0.501, 0.001);
  });

  it('the voice compressor goes between the input and the fader, and out again', () => {
    const { mixer, mic } = studio();
    mic.setCompressor(true);
    const comp = [...(mic.input as unknown as FakeNode).out].find((n) => n.kind === 'compressor');
    assert.ok(comp, 'input -> compressor');
    assert.ok(comp.out.has(mic.fader as unknown as FakeNode), 'compressor -> fader');
    assert.ok(!(mic.input as unknown as FakeNode).out.has(mic.fader as unknown as FakeNode), 'no bypass around it');
    assert.equal(pathGains(mic.input, mixer.destination).length, 1);
    mic.setCompressor(false);
    assert.ok((mic.input as unknown as FakeNode).out.has(mic.fader as unknown as FakeNode));
    assert.equal(mic.hasCompressor, false);
  });

  it('a guest: a channel from a MediaStream joins the master, and leaves it without touching the rest', () => {
    const { mixer, a } = studio();
    const before = FakeNode.all.length;
    const { channel, remove } = mixer.addStreamChannel({ id: 'guest-1', label: 'Guest' }, {} as MediaStream);
    const source = FakeNode.all.slice(before).find((n) => n.kind === 'stream-source')!;
    near(routeDb(source, mixer.destination), 0, 0.01, 'guest on air');
    assert.equal(channel.spec.ducked, false, 'a guest is a voice: not ducked');
    assert.throws(() => mixer.addChannel({ id: 'guest-1', kind: 'stream', label: 'again' }), /exists/);
    remove();
    assert.equal(routeDb(source, mixer.destination), -Infinity, 'gone from the master');
    assert.equal(mixer.channel('guest-1'), undefined);
    assert.ok(routeDb(a.input, mixer.destination) > -Infinity, 'the decks are untouched');
  });

  it('without the worklet, a compressor stands in as the limiter (and says so)', () => {
    const mixer = new Mixer(fakeGraph());
    assert.equal(mixer.truePeak, false);
    assert.equal((mixer.limiter as unknown as FakeNode).kind, 'compressor');
  });
});

describe('true-peak limiter DSP (www/src/limiter-core.ts)', () => {
  const sr = 48000;
  function run(signal: (t: number) => number, seconds: number, ceilingDb = -1.5): Float32Array {
    const lim = new TruePeakLimiter({ sampleRate: sr, channels: 2, ceilingDb });
    const n = Math.round(seconds * sr);
    const out = new Float32Array(n);
    const block = 128;
    for (let i = 0; i < n; i += block) {
      const len = Math.min(block, n - i);
      const inp = new Float32Array(len);
      for (let k = 0; k < len; k++) inp[k] = signal((i + k) / sr);
      const l = new Float32Array(len);
      const r = new Float32Array(len);
      lim.process([inp], [l, r]);
      out.set(l, i);
      assert.deepEqual(l, r, 'mono in, the same on both channels');
    }
    return out;
  }
  const peak = (x: Float32Array): number => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

  it('a +12 dB full-scale square never passes the ceiling, sample or inter-sample', () => {
    const square = (t: number): number => (Math.sin(2 * Math.PI * 220 * t) >= 0 ? 4 : -4);
    const out = run(square, 1);
    const ceiling = 10 ** (-1.5 / 20);
    assert.ok(peak(out) <= ceiling + 1e-6, `sample peak ${20 * Math.log10(peak(out))} dBFS`);
    // Inter-sample peaks: a 4x linear interpolation is a lower bound of the true peak; the
    // limiter's own sinc estimate keeps it under the ceiling with a small margin.
    let tp = 0;
    for (let i = 1; i < out.length; i++) for (let f = 1; f < 4; f++) tp = Math.max(tp, Math.abs(out[i - 1]! + (out[i]! - out[i - 1]!) * (f / 4)));
    assert.ok(tp <= ceiling + 1e-6);
    assert.ok(peak(out.subarray(sr / 2)) > ceiling * 0.5, `and it is not just silenced (${peak(out.subarray(sr / 2))})`);
  });

  it('leaves a signal under the ceiling untouched (only delayed)', () => {
    const sine = (t: number): number => 0.5 * Math.sin(2 * Math.PI * 1000 * t);
    const lim = new TruePeakLimiter({ sampleRate: sr, channels: 1 });
    const out = run(sine, 0.2);
    for (let i = lim.latency + 10; i < out.length; i++) near(out[i]!, sine((i - lim.latency) / sr), 1e-6, `sample ${i}`);
  });

  it('recovers after a loud burst (release), and reports the gain reduction', () => {
    const lim = new TruePeakLimiter({ sampleRate: sr, channels: 1, releaseMs: 100 });
    const loud = new Float32Array(4800).fill(2);
    const out = new Float32Array(4800);
    lim.process([loud], [out]);
    assert.ok(lim.takeGainReductionDb() < -6);
    const quiet = new Float32Array(48000).fill(0.5);
    const out2 = new Float32Array(48000);
    lim.process([quiet], [out2]);
    near(out2[out2.length - 1]!, 0.5, 0.001, 'back to unity within a second');
  });
});

describe('studio keys and now playing (www/src/keys.ts, now-playing.ts, tags.ts)', () => {
  it('every action has one key, shown; no two bindings collide', () => {
    const seen = new Set<string>();
    for (const k of KEYS) {
      const id = `${k.code}|${k.shift ?? false}|${k.ctrl ?? false}`;
      assert.ok(!seen.has(id), `${k.label} bound twice`);
      seen.add(id);
      assert.ok(k.label !== '' && k.does !== '');
    }
    assert.equal(KEYS.filter((k) => k.action.startsWith('pad') && k.action !== 'padsStop').length, 12);
    const ev = (code: string, mods: Partial<{ shiftKey: boolean; ctrlKey: boolean; metaKey: boolean; altKey: boolean }> = {}) =>
      ({ code, shiftKey: false, ctrlKey: false, metaKey: false, altKey: false, ...mods });
    assert.equal(bindingFor(ev('KeyM'))?.action, 'mic');
    assert.equal(bindingFor(ev('KeyZ', { shiftKey: true }))?.action, 'nextA');
    assert.equal(bindingFor(ev('Enter', { metaKey: true }))?.action, 'goLive', '⌘ works like Ctrl');
    assert.equal(bindingFor(ev('Enter', { ctrlKey: true, shiftKey: true }))?.action, 'stop');
    assert.equal(bindingFor(ev('Enter')), undefined, 'a plain Enter is not Go live');
    assert.equal(bindingFor(ev('KeyM', { altKey: true })), undefined);
    assert.equal(bindingFor(ev('Digit0'))?.action, 'pad9');
    assert.equal(KEYS.find((k) => k.action === 'talk')?.hold, true);
  });

  it('the deck on air: the loudest playing deck above -20 dB with a title', () => {
    const d = (id: string, playing: boolean, gainDb: number, title = `t${id}`) => ({ id, playing, gainDb, title, artist: '' });
    assert.equal(deckOnAir([d('A', true, -3), d('B', true, -3)])?.id, 'A', 'a tie keeps the first');
    assert.equal(deckOnAir([d('A', true, -10), d('B', true, -3)])?.id, 'B');
    assert.equal(deckOnAir([d('A', false, 0), d('B', true, -30)]), undefined, 'paused, or too quiet');
    assert.equal(deckOnAir([d('A', true, -Infinity), d('B', true, 0, '')]), undefined, 'cut, or untitled');
  });

  it('file names stand in for missing tags', () => {
    assert.deepEqual(tagsFromFileName('New Order - Blue Monday.mp3'), { artist: 'New Order', title: 'Blue Monday' });
    assert.deepEqual(tagsFromFileName('station_ident_2.wav'), { artist: '', title: 'station ident 2' });
  });
});
