// The studio on the page: one AudioContext, the mixer (mixer.ts) with its limiter worklet, the
// microphone channel, two decks, the cart wall, meters, cue output and the keyboard. It renders
// into #studio and hands the page one MediaStream to record (`recordStream()`), which stays the
// same whatever the host does: sources come and go inside the graph.
import { CartWall, PAD_COUNT } from './cart.js';
import { Deck } from './deck.js';
import { formatDuration } from './format.js';
import { KEYS, bindingFor, keyLabel, type StudioAction } from './keys.js';
import { FLOOR_DB, LevelMeter, measure } from './level-meter.js';
import { Mixer, dbToGain, type MixerChannel } from './mixer.js';
import { deckOnAir, type DeckOnAir } from './now-playing.js';
import { Shelf } from './shelf.js';

export interface StudioHooks {
  /** A deck went to air with this track (or the on-air track changed). */
  onNowPlaying(title: string, artist: string): void;
  /** A key for the page itself (go live, stop, video). */
  onPageAction(action: 'goLive' | 'stop' | 'video'): void;
}

/**
 * The master's true-peak ceiling. Listeners get the master after a lossy Opus encode, which adds
 * a little to the peaks even of band-limited material: -2 dBTP keeps them under -1 dBFS.
 */
const LIMITER_CEILING_DB = -2;

/** An element with attributes (`text`: its text) and children: the studio's and the guests card's markup. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

/** 83.4 -> "1:23" (hours only when there are some). */
function clock(seconds: number): string {
  const full = formatDuration(seconds * 1000);
  return full.startsWith('0:') ? full.slice(2).replace(/^0(\d)/, '$1') : full;
}

function kbd(action: StudioAction): HTMLElement {
  return h('kbd', { text: keyLabel(action) });
}

interface ChannelMeterView { analyser: AnalyserNode; el: HTMLElement; bar: HTMLElement; buf: Float32Array<ArrayBuffer>; held: number; heldAt: number }

export class Studio {
  readonly ctx: AudioContext;
  mixer!: Mixer;
  mic!: MixerChannel;
  decks!: [Deck, Deck];
  cart!: CartWall;
  private micSource: MediaStreamAudioSourceNode | undefined;
  private micWanted = true;
  private talkHeld = false;
  private coughHeld = false;
  /** A guest is on air (guest-desk.ts): the music ducks for them as for the mic. */
  private guestsTalking = false;
  private meters: ChannelMeterView[] = [];
  private frame = 0;
  private onAirKey = '';
  private autoNowPlaying = true;
  private readonly cueAudio: HTMLAudioElement;
  private ready: Promise<void>;
  private grDb = 0;
  private shelf: Shelf | undefined;

  constructor(private readonly root: HTMLElement, private readonly master: LevelMeter, private readonly hooks: StudioHooks) {
    this.ctx = new AudioContext({ latencyHint: 'interactive', sampleRate: 48000 });
    this.cueAudio = new Audio();
    this.cueAudio.autoplay = true;
    this.ready = this.build();
  }

  /** Resolves when the graph is built (the limiter worklet loaded). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** The stream the MediaRecorder records (the master after the limiter). */
  get masterStream(): MediaStream {
    return this.mixer.stream;
  }

  /** Try to start the audio engine (needs a user gesture in most browsers). */
  async wake(): Promise<boolean> {
    if (this.ctx.state === 'suspended') {
      try { await this.ctx.resume(); } catch { /* not allowed yet */ }
    }
    this.root.dataset['audio'] = this.ctx.state;
    return this.ctx.state === 'running';
  }

  /** Feed a new microphone (or line-in) stream into the mic channel, replacing the old one. */
  setMicStream(stream: MediaStream | undefined): void {
    if (this.micSource !== undefined) {
      this.mic.disconnectSource(this.micSource);
      this.micSource = undefined;
    }
    const track = stream?.getAudioTracks()[0];
    if (track === undefined) return;
    this.micSource = this.ctx.createMediaStreamSource(new MediaStream([track]));
    this.mic.connectSource(this.micSource);
  }

  /** The mic's state as the host set it (on/off key, push-to-talk, cough). */
  get micOpen(): boolean {
    return (this.micWanted || this.talkHeld) && !this.coughHeld;
  }

  setMicWanted(on: boolean): void {
    this.micWanted = on;
    this.applyMic();
  }

  /** Which deck listeners hear now, for "now playing". */
  currentOnAir(): DeckOnAir | undefined {
    return deckOnAir(this.decks.map((d) => {
      const st = d.state();
      return { id: d.id, playing: st.playing, gainDb: this.mixer.onAirGainDb(d.id), title: st.current?.title ?? '', artist: st.current?.artist ?? '' };
    }));
  }

  get isAutoNowPlaying(): boolean {
    return this.autoNowPlaying;
  }

  private async build(): Promise<void> {
    let limiter: AudioNode | undefined;
    try {
      await this.ctx.audioWorklet.addModule('/js/limiter-worklet.js');
      const node = new AudioWorkletNode(this.ctx, 'icewire-limiter', {
        numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [2], channelCount: 2, channelCountMode: 'explicit',
        processorOptions: { ceilingDb: LIMITER_CEILING_DB, channels: 2, lookaheadMs: 5, releaseMs: 150 },
      });
      node.port.onmessage = (ev: MessageEvent<{ gainReductionDb: number }>) => { this.grDb = ev.data.gainReductionDb; };
      limiter = node;
    } catch {
      limiter = undefined; // the compressor fallback; said on the page
    }
    this.mixer = new Mixer(this.ctx, limiter !== undefined ? { limiter } : {});
    this.mixer.masterBus.channelCount = 2;
    this.mixer.masterBus.channelCountMode = 'explicit';
    this.mixer.destination.channelCount = 2;
    this.mic = this.mixer.addChannel({ id: 'mic', kind: 'mic', label: 'Mic' });
    const deckA = new Deck(this.ctx, this.mixer.addChannel({ id: 'deckA', kind: 'deck', label: 'Deck A', crossfade: 'A' }), (why) => this.deckChanged(0, why));
    const deckB = new Deck(this.ctx, this.mixer.addChannel({ id: 'deckB', kind: 'deck', label: 'Deck B', crossfade: 'B' }), (why) => this.deckChanged(1, why));
    this.decks = [deckA, deckB];
    this.cart = new CartWall(this.ctx, this.mixer.addChannel({ id: 'cart', kind: 'cart', label: 'Cart' }), () => { this.renderPads(); this.keepPads(); });
    this.cueAudio.srcObject = this.mixer.cueDestination.stream;
    this.render();
    this.applyMic();
    this.master.attach(this.mixer.stream, this.ctx);
    this.root.dataset['limiter'] = this.mixer.truePeak ? 'true-peak' : 'compressor';
    this.root.dataset['audio'] = this.ctx.state;
    this.ctx.addEventListener('statechange', () => { this.root.dataset['audio'] = this.ctx.state; });
    document.addEventListener('keydown', (e) => this.onKey(e, true));
    document.addEventListener('keyup', (e) => this.onKey(e, false));
    const wake = (): void => { void this.wake(); };
    document.addEventListener('pointerdown', wake);
    document.addEventListener('keydown', wake);
    const tick = (): void => {
      this.drawMeters();
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
    // Decks' positions a few times a second (rAF stops in background tabs; this need not run there).
    window.setInterval(() => this.renderTransport(), 250);
    this.root.dataset['ready'] = 'true';
    void this.restoreShelf();
  }

  // ---- the shelf: decks' and pads' files kept across a reload ----

  /** Put back the files the decks and pads held before a reload (loaded, not playing). */
  private async restoreShelf(): Promise<void> {
    // Not this.shelf until the files are back: a pad still loading would read as empty and be
    // deleted from storage, then written again (its Blob copied twice) once it had loaded.
    const shelf = await Shelf.open();
    if (shelf === undefined) return;
    try {
      const kept = await shelf.all();
      const loads: Promise<void>[] = [];
      this.decks.forEach((deck, i) => {
        const e = kept.get(`deck-${i}`);
        if (e !== undefined && deck.files().length === 0) loads.push(deck.add(e.files));
      });
      for (let i = 0; i < PAD_COUNT; i++) {
        const e = kept.get(`pad-${i}`);
        const file = e?.files[0];
        if (file === undefined || this.cart.kept(i).files.length > 0) continue;
        loads.push(this.cart.load(i, file).then(() => { if (e?.loop === true) this.cart.setLoop(i, true); }));
      }
      await Promise.all(loads);
    } catch {
      this.note('The decks\' and pads\' files from before could not be read back from this browser\'s storage: load them again.');
    }
    this.shelf = shelf;
    // what changed meanwhile (the host loading a file during the restore) is kept now
    this.decks.forEach((_d, i) => this.keepDeck(i));
    this.keepPads();
    this.root.dataset['shelf'] = 'restored';
  }

  private keepDeck(i: number): void {
    this.keep(`deck-${i}`, { files: this.decks[i]!.files() });
  }

  private keep(place: string, entry: { files: File[]; loop?: boolean }): void {
    this.shelf?.put(place, entry).catch(() => {
      this.note('This browser did not keep the files on the decks and pads (its storage is full or blocked): after a reload you will need to load them again.');
    });
  }

  private keepPads(): void {
    for (let i = 0; i < PAD_COUNT; i++) this.keep(`pad-${i}`, this.cart.kept(i));
  }

  // ---- mic ----

  private applyMic(): void {
    const open = this.micOpen;
    this.mic.setOn(open);
    // Talk-over: music goes down while the mic is open (and not while it is only coughing), or a
    // guest is on air.
    this.mixer.setTalkOver(this.micWanted || this.talkHeld || this.guestsTalking);
    const b = this.root.querySelector<HTMLButtonElement>('#mic-on');
    if (b) {
      b.setAttribute('aria-pressed', String(open));
      b.dataset['on'] = String(open);
      b.firstChild!.textContent = open ? 'Mic on air ' : 'Mic off ';
    }
    this.root.querySelector<HTMLElement>('#strip-mic')?.setAttribute('data-open', String(open));
  }

  // ---- guests (guest-desk.ts) ----

  /** Guests on air talk over the music like the mic does. */
  setGuestsTalking(on: boolean): void {
    if (on === this.guestsTalking) return;
    this.guestsTalking = on;
    this.applyMic();
  }

  /** A channel meter drawn with the studio's own (data-peak-db like #meter-mic); remove() stops drawing it. */
  channelMeter(id: string, analyser: AnalyserNode): { el: HTMLElement; remove(): void } {
    const el = this.meterEl(id, analyser);
    return { el, remove: () => { this.meters = this.meters.filter((m) => m.el !== el); } };
  }

  // ---- keys ----

  private onKey(e: KeyboardEvent, down: boolean): void {
    const t = e.target as HTMLElement | null;
    // Typing in a field is typing, not a studio action (but Ctrl+Enter still goes live).
    const typing = t !== null && (t.tagName === 'INPUT' && !['checkbox', 'radio', 'range', 'button', 'file'].includes((t as HTMLInputElement).type) || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
    const b = bindingFor(e);
    if (b === undefined || (typing && !b.ctrl)) return;
    if (!down && !b.hold) return;
    if (down && e.repeat) { e.preventDefault(); return; }
    e.preventDefault();
    this.act(b.action, down);
  }

  /** Perform a studio action (from a key or a button); `down` is false on a held key's release. */
  act(action: StudioAction, down = true): void {
    const [a, b] = this.decks;
    switch (action) {
      case 'mic': this.setMicWanted(!this.micWanted); break;
      case 'talk': this.talkHeld = down; this.applyMic(); break;
      case 'cough': this.coughHeld = down; this.applyMic(); break;
      case 'ducking': this.setDuckingEnabled(!this.mixer.ducking.enabled); break;
      case 'monitor': this.mixer.setMonitor(!this.mixer.isMonitoring); this.syncControls(); break;
      case 'deckA': void a.toggle(); break;
      case 'deckB': void b.toggle(); break;
      case 'nextA': void a.next(a.state().playing); break;
      case 'nextB': void b.next(b.state().playing); break;
      case 'backA': a.seekBy(-5); break;
      case 'fwdA': a.seekBy(5); break;
      case 'backB': b.seekBy(-5); break;
      case 'fwdB': b.seekBy(5); break;
      case 'xfadeLeft': this.setCrossfader(this.mixer.crossfader - 0.1); break;
      case 'xfadeRight': this.setCrossfader(this.mixer.crossfader + 0.1); break;
      case 'xfadeA': this.setCrossfader(-1); break;
      case 'xfadeB': this.setCrossfader(1); break;
      case 'padsStop': this.cart.stopAll(); break;
      case 'help': {
        const d = this.root.querySelector<HTMLDetailsElement>('#keys');
        if (d) d.open = !d.open;
        break;
      }
      case 'goLive': case 'stop': case 'video': this.hooks.onPageAction(action); break;
      default:
        if (action.startsWith('pad')) this.cart.trigger(Number(action.slice(3)));
    }
  }

  private setCrossfader(x: number): void {
    this.mixer.setCrossfader(Math.round(x * 100) / 100);
    this.syncControls();
    this.checkNowPlaying();
  }

  private setDuckingEnabled(on: boolean): void {
    this.mixer.setDucking({ enabled: on });
    this.syncControls();
  }

  // ---- now playing ----

  private deckChanged(i: number, why: 'track' | 'transport' | 'queue'): void {
    this.renderDeck(i);
    if (why !== 'transport') this.keepDeck(i);
    if (why !== 'queue') this.checkNowPlaying();
  }

  /** Tell the page when what is on air changes (a deck starts, the crossfader moves over). */
  checkNowPlaying(force = false): void {
    const d = this.currentOnAir();
    const key = d === undefined ? '' : `${d.id}|${d.title}|${d.artist}`;
    if (!force && key === this.onAirKey) return;
    this.onAirKey = key;
    if (d !== undefined && this.autoNowPlaying) this.hooks.onNowPlaying(d.title, d.artist);
  }

  // ---- rendering ----

  private render(): void {
    const micStrip = h('div', { class: 'strip', id: 'strip-mic', 'data-open': 'true' },
      h('div', { class: 'strip-head' }, h('strong', { text: 'Microphone' })),
      h('div', { class: 'strip-buttons' },
        h('button', { type: 'button', id: 'mic-on', class: 'btn btn-mic', 'aria-pressed': 'true' }, 'Mic on air ', kbd('mic')),
        h('button', { type: 'button', id: 'talk', class: 'btn btn-small btn-outline', title: 'Hold to talk' }, 'Talk ', kbd('talk')),
        h('button', { type: 'button', id: 'cough', class: 'btn btn-small btn-outline', title: 'Hold to cough' }, 'Cough ', kbd('cough'))),
      this.fader('mic-gain', 'Mic level', this.mic),
      h('label', { class: 'choice small' }, h('input', { type: 'checkbox', id: 'mic-compressor' }), h('span', { text: 'Voice compressor' })),
      this.meterEl('meter-mic', this.mic.meter));
    const ducking = h('fieldset', { class: 'ducking' },
      h('legend', {}, 'Talk-over ', kbd('ducking')),
      h('label', { class: 'choice small' }, h('input', { type: 'checkbox', id: 'ducking', checked: '' }), h('span', { text: 'Music ducks while the mic is on' })),
      h('div', { class: 'duck-fields' },
        this.numberField('duck-depth', 'Depth dB', this.mixer.ducking.depthDb, 0, 40, 1),
        this.numberField('duck-attack', 'Attack ms', this.mixer.ducking.attackMs, 10, 3000, 10),
        this.numberField('duck-release', 'Release ms', this.mixer.ducking.releaseMs, 10, 5000, 10)));
    const decks = h('div', { class: 'decks' }, this.deckEl(0), this.deckEl(1));
    const xfade = h('div', { class: 'xfade' },
      h('span', { text: 'A' }),
      h('input', { type: 'range', id: 'xfade', min: '-100', max: '100', step: '1', value: '0', 'aria-label': 'Crossfader (← → keys)' }),
      h('span', { text: 'B' }), h('span', { class: 'muted small' }, kbd('xfadeLeft'), ' ', kbd('xfadeRight')));
    const pads = h('div', { class: 'pads', id: 'pads' });
    for (let i = 0; i < PAD_COUNT; i++) {
      pads.append(h('div', { class: 'pad', id: `pad-${i}`, 'data-loaded': 'false', 'data-playing': 'false' },
        h('button', { type: 'button', class: 'pad-fire', 'aria-label': `Cart pad ${i + 1}` }, h('span', { class: 'pad-label', text: 'Empty' }), kbd(`pad${i}`)),
        h('div', { class: 'pad-tools' },
          h('label', { class: 'pad-load', title: 'Load a file' }, 'Load', h('input', { type: 'file', id: `pad-${i}-file`, accept: 'audio/*' })),
          h('label', { class: 'pad-loop', title: 'Loop' }, h('input', { type: 'checkbox', id: `pad-${i}-loop` }), 'Loop'))));
    }
    const cart = h('div', { class: 'cart' },
      h('div', { class: 'strip-head' }, h('strong', { text: 'Cart wall' }), h('span', { class: 'muted small' }, 'Stop all ', kbd('padsStop'))),
      pads, this.fader('cart-gain', 'Cart level', this.cart.channel), this.meterEl('meter-cart', this.cart.channel.meter));
    const supportsSink = 'setSinkId' in HTMLMediaElement.prototype;
    const cue = h('div', { class: 'cue' },
      h('label', { for: 'cue-output', text: 'Headphones (cue)' }),
      h('select', { id: 'cue-output' }, h('option', { value: '', text: 'Default output' })),
      h('label', { class: 'choice small' }, h('input', { type: 'checkbox', id: 'monitor' }), h('span', {}, 'Hear the master too ', kbd('monitor'))),
      h('p', { id: 'cue-note', class: 'help', text: supportsSink
        ? 'Cue (pre-listen) plays on the output you pick here, never on air. Pick your headphones.'
        : 'This browser cannot send cue to a second output: cue plays on the default output. Use headphones there, or Chrome or Edge to pick an output.' }));
    const master = h('div', { class: 'master-info' },
      h('span', { id: 'limiter-gr', class: 'muted small', 'data-db': '0', text: 'Limiter: idle' }),
      h('label', { class: 'choice small' }, h('input', { type: 'checkbox', id: 'auto-now-playing', checked: '' }), h('span', { text: 'Update now playing when a deck goes to air' })));
    const keys = h('details', { id: 'keys', class: 'keys' }, h('summary', {}, 'Keys ', h('kbd', { text: '?' })),
      h('dl', { id: 'keys-list' }, ...KEYS.filter((k) => !k.action.startsWith('pad') || k.action === 'pad0').map((k) => h('div', {},
        h('dt', {}, h('kbd', { text: k.action === 'pad0' ? '1 … 0 - =' : k.label })), h('dd', { text: k.action === 'pad0' ? 'Cart pads 1–12: play / stop' : k.does })))));
    this.root.replaceChildren(
      h('div', { class: 'card-head' }, h('h2', { id: 'studio-heading', text: 'Studio' }), keys),
      h('p', { id: 'studio-note', class: 'help', hidden: '' }),
      h('div', { class: 'studio-grid' }, micStrip, ducking), decks, xfade, cart, master, cue);
    this.bindControls();
    for (let i = 0; i < 2; i++) this.renderDeck(i);
    this.renderPads();
    if (!this.mixer.truePeak) this.note('The browser could not load the true-peak limiter, so a simpler one is used: keep the master meter out of the red.');
    void this.listOutputs();
  }

  private note(text: string): void {
    const n = this.root.querySelector<HTMLElement>('#studio-note');
    if (n) { n.textContent = text; n.hidden = text === ''; }
  }

  private fader(id: string, label: string, ch: MixerChannel): HTMLElement {
    const out = h('output', { for: id, id: `${id}-value`, text: `${ch.gainDb.toFixed(1)} dB` });
    const input = h('input', { type: 'range', id, min: '-40', max: '12', step: '0.5', value: String(ch.gainDb), 'aria-label': label });
    input.addEventListener('input', () => {
      const db = Number(input.value);
      ch.setGainDb(db);
      out.textContent = `${db.toFixed(1)} dB`;
      this.checkNowPlaying();
    });
    return h('div', { class: 'fader' }, h('label', { for: id, text: label }), input, out);
  }

  private numberField(id: string, label: string, value: number, min: number, max: number, step: number): HTMLElement {
    return h('label', { class: 'num' }, h('span', { text: label }), h('input', { type: 'number', id, value: String(value), min: String(min), max: String(max), step: String(step), inputmode: 'numeric' }));
  }

  private meterEl(id: string, analyser: AnalyserNode): HTMLElement {
    const bar = h('div', { class: 'ch-meter-bar' });
    const el = h('div', { class: 'ch-meter', id, 'data-peak-db': String(FLOOR_DB), role: 'meter', 'aria-valuemin': String(FLOOR_DB), 'aria-valuemax': '0' }, bar);
    this.meters.push({ analyser, el, bar, buf: new Float32Array(analyser.fftSize), held: FLOOR_DB, heldAt: 0 });
    return el;
  }

  private deckEl(i: number): HTMLElement {
    const p = i === 0 ? 'deck-a' : 'deck-b';
    const side = i === 0 ? 'A' : 'B';
    const deck = this.decks[i]!;
    return h('div', { class: 'deck', id: p, 'data-playing': 'false' },
      h('div', { class: 'deck-head' }, h('strong', { text: `Deck ${side}` }), h('span', { class: 'deck-title', id: `${p}-title`, text: 'Empty: add files' })),
      h('div', { class: 'deck-artist muted small', id: `${p}-artist` }),
      h('div', { class: 'deck-pos' },
        h('input', { type: 'range', id: `${p}-pos`, min: '0', max: '1000', step: '1', value: '0', 'aria-label': `Deck ${side} position` }),
        h('span', { class: 'deck-time', id: `${p}-time`, text: '0:00 / 0:00' })),
      h('div', { class: 'deck-buttons' },
        h('button', { type: 'button', id: `${p}-play`, class: 'btn btn-small btn-deck' }, 'Play ', kbd(i === 0 ? 'deckA' : 'deckB')),
        h('button', { type: 'button', id: `${p}-next`, class: 'btn btn-small btn-outline' }, 'Next ', kbd(i === 0 ? 'nextA' : 'nextB')),
        h('button', { type: 'button', id: `${p}-cue`, class: 'btn btn-small btn-outline', 'aria-pressed': 'false' }, 'Cue'),
        h('label', { class: 'btn btn-small btn-outline file-btn' }, 'Add files', h('input', { type: 'file', id: `${p}-files`, accept: 'audio/*,.mp3,.ogg,.oga,.opus,.flac,.wav,.m4a,.aac', multiple: '' }))),
      this.fader(`${p}-gain`, `Deck ${side} level`, deck.channel),
      h('label', { class: 'choice small' }, h('input', { type: 'checkbox', id: `${p}-auto`, checked: '' }), h('span', { text: 'Auto-advance to the next track' })),
      h('ol', { class: 'queue', id: `${p}-queue` }),
      h('p', { class: 'error small', id: `${p}-error`, hidden: '' }),
      this.meterEl(`meter-${p}`, deck.channel.meter));
  }

  private $<T extends HTMLElement>(id: string): T {
    return this.root.querySelector<T>(`#${id}`)!;
  }

  private bindControls(): void {
    const hold = (id: string, action: StudioAction): void => {
      const b = this.$<HTMLButtonElement>(id);
      b.addEventListener('pointerdown', (e) => { e.preventDefault(); b.setPointerCapture?.(e.pointerId); this.act(action, true); });
      for (const ev of ['pointerup', 'pointercancel', 'lostpointercapture']) b.addEventListener(ev, () => this.act(action, false));
    };
    this.$('mic-on').addEventListener('click', () => this.act('mic'));
    hold('talk', 'talk');
    hold('cough', 'cough');
    this.$<HTMLInputElement>('mic-compressor').addEventListener('change', (e) => this.mic.setCompressor((e.target as HTMLInputElement).checked));
    this.$<HTMLInputElement>('ducking').addEventListener('change', (e) => this.setDuckingEnabled((e.target as HTMLInputElement).checked));
    for (const [id, key] of [['duck-depth', 'depthDb'], ['duck-attack', 'attackMs'], ['duck-release', 'releaseMs']] as const) {
      this.$<HTMLInputElement>(id).addEventListener('change', (e) => {
        const v = Number((e.target as HTMLInputElement).value);
        if (Number.isFinite(v) && v >= 0) this.mixer.setDucking({ [key]: v });
      });
    }
    this.$<HTMLInputElement>('xfade').addEventListener('input', (e) => this.setCrossfader(Number((e.target as HTMLInputElement).value) / 100));
    this.decks.forEach((deck, i) => {
      const p = i === 0 ? 'deck-a' : 'deck-b';
      this.$(`${p}-play`).addEventListener('click', () => void deck.toggle());
      this.$(`${p}-next`).addEventListener('click', () => void deck.next(deck.state().playing));
      this.$(`${p}-cue`).addEventListener('click', (e) => {
        deck.channel.setCue(!deck.channel.isCued);
        (e.currentTarget as HTMLElement).setAttribute('aria-pressed', String(deck.channel.isCued));
      });
      const files = this.$<HTMLInputElement>(`${p}-files`);
      files.addEventListener('change', () => {
        const list = Array.from(files.files ?? []);
        files.value = '';
        void this.wake();
        void deck.add(list);
      });
      const pos = this.$<HTMLInputElement>(`${p}-pos`);
      pos.addEventListener('input', () => {
        const d = deck.state().duration;
        if (d > 0) deck.seek((Number(pos.value) / 1000) * d);
      });
      this.$<HTMLInputElement>(`${p}-auto`).addEventListener('change', (e) => { deck.autoAdvance = (e.target as HTMLInputElement).checked; });
      const el = this.$(p);
      el.addEventListener('dragover', (e) => e.preventDefault());
      el.addEventListener('drop', (e) => {
        e.preventDefault();
        void deck.add(Array.from(e.dataTransfer?.files ?? []).filter((f) => f.type.startsWith('audio/') || /\.(mp3|ogg|oga|opus|flac|wav|m4a|aac)$/i.test(f.name)));
      });
    });
    for (let i = 0; i < PAD_COUNT; i++) {
      this.$(`pad-${i}`).querySelector('.pad-fire')!.addEventListener('click', () => { void this.wake(); this.cart.trigger(i); });
      const f = this.$<HTMLInputElement>(`pad-${i}-file`);
      f.addEventListener('change', () => {
        const file = f.files?.[0];
        f.value = '';
        if (file) void this.cart.load(i, file);
      });
      this.$<HTMLInputElement>(`pad-${i}-loop`).addEventListener('change', (e) => this.cart.setLoop(i, (e.target as HTMLInputElement).checked));
    }
    this.$<HTMLInputElement>('monitor').addEventListener('change', (e) => this.mixer.setMonitor((e.target as HTMLInputElement).checked));
    this.$<HTMLInputElement>('auto-now-playing').addEventListener('change', (e) => {
      this.autoNowPlaying = (e.target as HTMLInputElement).checked;
      if (this.autoNowPlaying) this.checkNowPlaying(true);
    });
    this.$<HTMLSelectElement>('cue-output').addEventListener('change', (e) => void this.setCueOutput((e.target as HTMLSelectElement).value));
    navigator.mediaDevices?.addEventListener?.('devicechange', () => void this.listOutputs());
  }

  private syncControls(): void {
    const d = this.mixer.ducking;
    this.$<HTMLInputElement>('ducking').checked = d.enabled;
    this.$<HTMLInputElement>('xfade').value = String(Math.round(this.mixer.crossfader * 100));
    this.$<HTMLInputElement>('monitor').checked = this.mixer.isMonitoring;
  }

  /** Fill the cue output picker (labels appear once the microphone is allowed). */
  async listOutputs(): Promise<void> {
    const sel = this.root.querySelector<HTMLSelectElement>('#cue-output');
    if (!sel || !('setSinkId' in HTMLMediaElement.prototype)) {
      sel?.setAttribute('disabled', '');
      return;
    }
    let outs: MediaDeviceInfo[] = [];
    try { outs = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'audiooutput' && d.deviceId !== 'default' && d.deviceId !== ''); } catch { /* none */ }
    const keep = sel.value;
    sel.replaceChildren(h('option', { value: '', text: 'Default output' }), ...outs.map((d, i) => h('option', { value: d.deviceId, text: d.label || `Output ${i + 1}` })));
    if (outs.some((d) => d.deviceId === keep)) sel.value = keep;
  }

  private async setCueOutput(id: string): Promise<void> {
    const a = this.cueAudio as HTMLAudioElement & { setSinkId?(id: string): Promise<void> };
    try {
      await a.setSinkId?.(id);
      await a.play().catch(() => undefined);
      this.note('');
    } catch (err) {
      this.note(`The headphones output could not be used (${(err as { name?: string }).name ?? 'error'}). Cue stays on the default output.`);
    }
  }

  private renderDeck(i: number): void {
    const p = i === 0 ? 'deck-a' : 'deck-b';
    const root = this.root.querySelector<HTMLElement>(`#${p}`);
    if (!root) return;
    const st = this.decks[i]!.state();
    root.dataset['playing'] = String(st.playing);
    root.dataset['loaded'] = String(st.current !== undefined);
    this.$(`${p}-title`).textContent = st.current ? (st.current.title || st.current.name) : 'Empty: add files';
    this.$(`${p}-artist`).textContent = st.current?.artist ?? '';
    const play = this.$(`${p}-play`);
    play.firstChild!.textContent = st.playing ? 'Pause ' : 'Play ';
    const q = this.$(`${p}-queue`);
    q.replaceChildren(...st.queue.map((t) => h('li', { 'data-id': String(t.id) }, [t.artist, t.title || t.name].filter((x) => x).join(' – '))));
    const err = this.$(`${p}-error`);
    err.textContent = st.error ?? '';
    err.hidden = st.error === undefined;
    this.renderTransport();
  }

  private renderTransport(): void {
    this.decks?.forEach((deck, i) => {
      const p = i === 0 ? 'deck-a' : 'deck-b';
      const st = deck.state();
      const pos = this.root.querySelector<HTMLInputElement>(`#${p}-pos`);
      if (!pos) return;
      if (document.activeElement !== pos) pos.value = String(st.duration > 0 ? Math.round((st.position / st.duration) * 1000) : 0);
      this.$(`${p}-time`).textContent = `${clock(st.position)} / ${clock(st.duration)}`;
      this.$(p).dataset['position'] = st.position.toFixed(2);
    });
    const gr = this.root.querySelector<HTMLElement>('#limiter-gr');
    if (gr) {
      gr.dataset['db'] = this.grDb.toFixed(1);
      gr.textContent = this.grDb < -0.5 ? `Limiter: −${(-this.grDb).toFixed(1)} dB` : 'Limiter: idle';
    }
  }

  private renderPads(): void {
    for (const p of this.cart.state()) {
      const el = this.root.querySelector<HTMLElement>(`#pad-${p.index}`);
      if (!el) continue;
      el.dataset['loaded'] = String(p.loaded);
      el.dataset['playing'] = String(p.playing);
      el.dataset['loop'] = String(p.loop);
      const loop = el.querySelector<HTMLInputElement>(`#pad-${p.index}-loop`);
      if (loop) loop.checked = p.loop;
      el.querySelector('.pad-label')!.textContent = p.error ? 'Cannot play' : p.loaded ? p.label : 'Empty';
      el.title = p.error ?? (p.loaded ? `${p.label} (${p.duration.toFixed(1)} s)` : 'Load a file with Load');
    }
  }

  private drawMeters(): void {
    const now = performance.now();
    for (const m of this.meters) {
      m.analyser.getFloatTimeDomainData(m.buf);
      const lv = measure(m.buf);
      if (lv.peakDb >= m.held || now - m.heldAt > 800) { m.held = lv.peakDb; m.heldAt = now; }
      m.bar.style.width = `${Math.max(0, Math.min(100, ((lv.peakDb - FLOOR_DB) / -FLOOR_DB) * 100)).toFixed(1)}%`;
      m.el.dataset['peakDb'] = m.held.toFixed(1);
      m.el.setAttribute('aria-valuenow', m.held.toFixed(0));
    }
  }
}

export { dbToGain };
