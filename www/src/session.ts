// One broadcast as the page runs it: connect, record, resume after a drop (or a reload), stop,
// upload health and the figures people see. DOM-free: the socket, the MediaRecorder, the clock
// and the storage for a reload come from injected factories, so mocha drives it with fakes
// (test/unit/session.test.ts). The page renders `snapshot()` whenever `onChange` fires.
//
// States (`state.kind`):
//   connecting  hello sent; waiting for the daemon's first `live` (also: a resume that the daemon
//               answered by starting a new broadcast)
//   live        the daemon has the stream; `audience` says whether listeners hear it (Icecast may
//               be reconnecting: 'none', or only some renditions: 'some')
//   away        this page lost its connection; resuming with the broadcast's token (backoff)
//   stopping    Stop pressed; the recorder is flushed and the socket closed with 1000
//   ended       over: `end` says how, with the summary figures
// connecting -> live <-> away -> ... -> stopping -> ended; any state -> ended on a refusal.
import {
  RESUME_FAILED, SERVER_SILENT, UPLOAD_TOO_SLOW, RECORDER_FAILED, closeSentence, endReasonSentence,
} from './messages.js';
import type { EndReason } from './wire-contract.js';
import {
  WebcastClient, closeIsResumable, resumeDelayMs,
  type ChunkLike, type CloseInfo, type Hello, type RenditionStatus, type SocketFactory, type StatusData, type Timers,
} from './webcast-client.js';

/** What the session needs of a MediaRecorder. */
export interface RecorderLike {
  readonly state: string;
  start(timesliceMs: number): void;
  stop(): void;
  addEventListener(type: 'dataavailable', fn: (e: { data: ChunkLike }) => void): void;
  addEventListener(type: 'error' | 'stop', fn: () => void): void;
}

export interface Clock extends Timers {
  now(): number;
}

/** What survives a reload (sessionStorage): never the password. */
export interface SavedShow {
  url: string;
  /** The hello to resume with: user, mime and a login token (no password). */
  hello: Hello;
  video: boolean;
  resume: string;
  since: string;
  savedAt: number;
}

export interface SessionDeps {
  openSocket: SocketFactory;
  /** A new recorder on the show's stream, with the same options each time. Throws if it can't. */
  createRecorder(): RecorderLike;
  clock: Clock;
  /** Bytes per second the recorder produces (to judge how far behind the upload is). */
  bytesPerSecond: number;
  timesliceMs: number;
  onChange(): void;
  /** Keep what a reloaded page needs to resume (undefined: forget it). */
  persist?(show: SavedShow | undefined): void;
  /** A login token to put in saved hellos instead of the password (accounts mode). */
  loginToken?: string | undefined;
}

export type Health = 'idle' | 'good' | 'slow' | 'stalled' | 'held';
export type Audience = 'all' | 'some' | 'none';

export interface EndInfo {
  /** The daemon's end reason, or the page's: stopped, connection-lost, upload-too-slow, … */
  reason: string;
  /** How it ended, a few words for the summary ("you pressed Stop"). */
  words: string;
  /** A sentence to show as an error, when it was not a normal stop. */
  sentence: string | undefined;
  /** The daemon had said live (so there was a show). */
  wentLive: boolean;
  durationMs: number;
  peakListeners: number;
  bytes: number;
}

export type SessionState =
  | { kind: 'connecting' }
  | { kind: 'live' }
  | { kind: 'away'; since: number; attempts: number }
  | { kind: 'stopping' }
  | { kind: 'ended'; end: EndInfo };

export interface SessionSnapshot {
  state: SessionState;
  /** When the broadcast went live (the daemon's `since`). */
  since: string | undefined;
  listeners: number | undefined;
  peakListeners: number;
  bytesSent: number;
  health: Health;
  /** Seconds of recorded media not yet on the wire. */
  behindS: number;
  audience: Audience;
  /** Renditions (mounts) whose Icecast connection is being re-established. */
  heldMounts: string[];
  renditions: RenditionStatus[];
  /** A resume reached a daemon that no longer had the broadcast: the show goes on as a new one. */
  continuedAsNew: boolean;
  /** Metadata can be sent now. */
  canSendMetadata: boolean;
}

/** No word from the daemon for this long while connecting: give up with a sentence. */
export const CONNECT_SILENCE_MS = 10_000;
export const CONNECT_MAX_MS = 30_000;
/** Upload health thresholds, in seconds of recorded media not yet on the wire. */
export const SLOW_BACKLOG_S = 2;
export const STALLED_BACKLOG_S = 15;
export const STALLED_NO_PROGRESS_MS = 5_000;
export const GIVE_UP_BACKLOG_S = 60;
/** On air, no status frame for this long means a dead connection (the daemon sends one every 1–2 s). */
export const HEARTBEAT_GAP_MS = 5_000;
/** One resume attempt: the socket must open and the daemon answer within this. */
export const RESUME_ATTEMPT_MS = 5_000;
/** Give up resuming this long after the connection was lost. */
export const RESUME_GIVE_UP_MS = 30_000;
/** Stop pressed while away: how long to try telling the daemon before just ending. */
export const STOP_WHILE_AWAY_MS = 3_000;
/** Close code for a connection we give up on in order to resume (not 1000: that would end the show). */
export const CLOSE_FOR_RESUME = 4000;
export const TICK_MS = 500;
/**
 * Error codes of a refused resume that are worth retrying (within the resume window): the
 * daemon that took over a crashed one finds the mount still held by Icecast for a moment.
 */
const RETRYABLE_RESUME_REFUSALS = new Set(['IW_ERR_ICECAST_MOUNT_IN_USE', 'IW_ERR_MOUNT_BUSY']);

/** How each end reason reads in the summary ("ended because …"). */
const END_WORDS: Record<EndReason, string> = {
  stopped: 'the broadcast was stopped',
  'icecast-auth': 'Icecast refused the source password',
  'icecast-busy': 'Icecast said the mount was in use',
  'icecast-unreachable': 'Icecast could not be reached',
  'icecast-lost': 'Icecast stayed unreachable',
  'ffmpeg-failed': 'the server\'s encoder failed',
  'ingest-too-slow': 'the server could not keep up',
  'ingest-too-fast': 'the stream arrived faster than it plays',
  'idle-timeout': 'no audio reached the server for too long',
  shutdown: 'the server shut down',
  kicked: 'the station ended it',
  'connection-lost': 'the connection to the server was lost',
  'icecast-refused': 'Icecast refused the stream',
  'invalid-media': 'the server could not read the audio',
  'protocol-error': 'the server did not understand the page',
  internal: 'something went wrong on the server',
};

function endWords(reason: string | undefined): string | undefined {
  return reason !== undefined && Object.hasOwn(END_WORDS, reason) ? END_WORDS[reason as EndReason] : undefined;
}

export class BroadcastSession {
  private stateValue: SessionState = { kind: 'connecting' };
  private client: WebcastClient | undefined;
  /** The daemon answered the current connection's hello (a status frame came). */
  private accepted = false;
  private recorder: RecorderLike | undefined;
  private firstRecorder: RecorderLike | undefined;
  private resumeToken: string | undefined;
  private sinceValue: string | undefined;
  /** The `since` a resume expects to find (to notice a daemon that started a new broadcast). */
  private expectSince: string | undefined;
  private errorFrame: { code: string; message: string } | undefined;
  private endReason: string | undefined;
  private localError: string | undefined;
  private openedAt: number;
  private lastMessageAt: number;
  private bytesBefore = 0;
  private lastSent = 0;
  private lastProgressAt: number;
  private timer: unknown;
  private attemptTimer: unknown;
  private attemptStartedAt: number | undefined;
  private wentLive = false;
  private listenersValue: number | undefined;
  private peak = 0;
  private healthValue: Health = 'idle';
  private behind = 0;
  private audienceValue: Audience = 'all';
  private held: string[] = [];
  private renditionsValue: RenditionStatus[] = [];
  private newBroadcast = false;
  private stopRequested = false;
  private abandoned = false;

  private constructor(
    private readonly deps: SessionDeps,
    private readonly url: string,
    private readonly hello: Hello,
    readonly video: boolean,
  ) {
    this.openedAt = deps.clock.now();
    this.lastMessageAt = this.openedAt;
    this.lastProgressAt = this.openedAt;
  }

  /** Go live: a new broadcast. Throws if the recorder can't be made (say so before connecting). */
  static start(deps: SessionDeps, o: { url: string; hello: Hello; video: boolean }): BroadcastSession {
    const s = new BroadcastSession(deps, o.url, o.hello, o.video);
    s.firstRecorder = deps.createRecorder();
    s.connect(false);
    s.scheduleTick();
    return s;
  }

  /** A reloaded page picks up a show it was running (from `SavedShow`): resume at once. */
  static resume(deps: SessionDeps, saved: SavedShow): BroadcastSession {
    const s = new BroadcastSession(deps, saved.url, saved.hello, saved.video);
    s.resumeToken = saved.resume;
    s.sinceValue = saved.since;
    s.wentLive = true;
    s.stateValue = { kind: 'away', since: deps.clock.now(), attempts: 0 };
    s.attemptStartedAt = deps.clock.now();
    s.connect(true);
    s.scheduleTick();
    return s;
  }

  get state(): SessionState {
    return this.stateValue;
  }

  get isOver(): boolean {
    return this.stateValue.kind === 'ended';
  }

  snapshot(): SessionSnapshot {
    const k = this.stateValue.kind;
    return {
      state: this.stateValue,
      since: this.sinceValue,
      listeners: this.listenersValue,
      peakListeners: this.peak,
      bytesSent: this.bytesSent(),
      health: this.healthValue,
      behindS: this.behind,
      audience: this.audienceValue,
      heldMounts: [...this.held],
      renditions: this.renditionsValue,
      continuedAsNew: this.newBroadcast,
      canSendMetadata: (k === 'live' || k === 'connecting') && this.accepted && this.client?.isOpen === true,
    };
  }

  /** Send "now playing"; false when there is no connection the daemon has taken. */
  sendMetadata(title: string, artist: string): boolean {
    if (!this.snapshot().canSendMetadata) return false;
    return this.client!.sendMetadata(title, artist);
  }

  /**
   * Stop: flush the recorder, close with 1000, and end. While away, present the token once more
   * (no media) and close normally as soon as the daemon has taken it, which ends the broadcast at
   * once; if the daemon can't be reached in STOP_WHILE_AWAY_MS, just end (the daemon ends the
   * broadcast after its grace period).
   */
  async stop(): Promise<void> {
    const k = this.stateValue.kind;
    if (k === 'ended' || k === 'stopping') return;
    const wasAway = k === 'away';
    this.stopRequested = true;
    this.setState({ kind: 'stopping' });
    if (wasAway) {
      this.deps.clock.clearTimeout(this.attemptTimer);
      let c = this.client;
      if (c === undefined || c.isClosed || c.isClosedByUs) {
        if (this.resumeToken === undefined) { this.end({ code: 1000, reason: '', opened: true, byUs: true }); return; }
        c = this.connect(true);
      }
      const taken = await c.waitForStatus(STOP_WHILE_AWAY_MS);
      if (taken) await c.finish(STOP_WHILE_AWAY_MS);
      else c.abort(1000);
      this.end({ code: 1000, reason: '', opened: true, byUs: true });
      return;
    }
    const rec = this.recorder;
    if (rec !== undefined && rec.state !== 'inactive') {
      // The last dataavailable fires before 'stop'; its chunk is queued before finish() drains.
      await new Promise<void>((resolve) => {
        rec.addEventListener('stop', () => resolve());
        try { rec.stop(); } catch { resolve(); }
      });
    }
    await this.client?.finish();
    this.end({ code: 1000, reason: '', opened: true, byUs: true });
  }

  /**
   * The page is going away (a reload, a closed tab): close as a drop, so the daemon keeps the
   * broadcast for its grace period and a reloaded tab can resume it (the saved show is kept).
   */
  abandon(): void {
    if (this.isOver) return;
    this.abandoned = true;
    this.discardRecorder();
    this.client?.abort(CLOSE_FOR_RESUME);
  }

  /** End because of something on the page (a device gone): stop, with this sentence. */
  async fail(sentence: string): Promise<void> {
    if (this.isOver) return;
    this.localError = sentence;
    await this.stop();
  }

  // ---- connections ----

  private connect(resume: boolean): WebcastClient {
    const hello: Hello = resume && this.resumeToken !== undefined ? { ...this.hello, resume: this.resumeToken } : this.hello;
    if (resume) this.expectSince = this.sinceValue;
    const client: WebcastClient = new WebcastClient(this.deps.openSocket, this.url, hello, {
      onOpen: () => {
        if (this.client !== client) return;
        this.lastMessageAt = this.deps.clock.now();
        if (resume) return;
        this.openedAt = this.lastMessageAt;
        const first = this.firstRecorder;
        this.firstRecorder = undefined;
        if (first !== undefined && !this.stopRequested) this.startRecording(first);
      },
      onStatus: (st) => { if (this.client === client) this.onStatus(st); },
      onErrorFrame: (code, message) => { if (this.client === client) this.errorFrame = { code, message }; },
      onClose: (c) => { if (this.client === client) this.onClose(c); },
    }, this.deps.clock);
    this.client = client;
    this.accepted = false;
    return client;
  }

  /** Record into the current connection, with a new recorder unless one is given. */
  private startRecording(given?: RecorderLike): void {
    const client = this.client;
    if (client === undefined) return;
    let rec: RecorderLike;
    try {
      rec = given ?? this.deps.createRecorder();
    } catch {
      void this.fail(RECORDER_FAILED);
      return;
    }
    // A recorder's chunks belong to the connection it started on: never carry them to another.
    rec.addEventListener('dataavailable', (e) => {
      if (this.recorder === rec && this.client === client) client.sendChunk(e.data);
    });
    rec.addEventListener('error', () => {
      if (this.recorder !== rec || this.stopRequested || this.isOver) return;
      void this.fail(RECORDER_FAILED);
    });
    this.recorder = rec;
    try {
      rec.start(this.deps.timesliceMs);
    } catch {
      this.recorder = undefined;
      void this.fail(RECORDER_FAILED);
    }
  }

  private discardRecorder(): void {
    const rec = this.recorder;
    this.recorder = undefined;
    if (rec !== undefined && rec.state !== 'inactive') {
      try { rec.stop(); } catch { /* already stopping */ }
    }
  }

  private onStatus(st: StatusData): void {
    const now = this.deps.clock.now();
    this.lastMessageAt = now;
    if (typeof st.resume === 'string' && st.resume !== '') this.resumeToken = st.resume;
    if (!this.accepted) {
      this.accepted = true;
      if (this.stateValue.kind === 'away') {
        // The daemon took the resume (or, with an expired token, started afresh): record again.
        this.deps.clock.clearTimeout(this.attemptTimer);
        this.lastProgressAt = now;
        this.lastSent = this.bytesBefore;
        if (st.state === 'connecting' || (typeof st.since === 'string' && this.expectSince !== undefined && st.since !== this.expectSince)) {
          this.newBroadcast = true;
        }
        // A new broadcast gets its own time to go live (CONNECT_MAX_MS), counted from now, not
        // from the Go live click of the show that was lost.
        if (st.state === 'connecting') this.openedAt = now;
        this.setState({ kind: st.state === 'connecting' ? 'connecting' : 'live' });
        this.startRecording();
      }
    }
    if (typeof st.listeners === 'number') {
      this.listenersValue = st.listeners;
      this.peak = Math.max(this.peak, st.listeners);
    }
    if (typeof st.since === 'string') this.sinceValue = st.since;
    if (Array.isArray(st.renditions)) this.renditionsValue = [...st.renditions];
    this.held = (st.renditions ?? []).filter((r) => r.state !== undefined && r.state !== 'live').map((r) => r.mount);
    this.audienceValue = st.state === 'reconnecting' ? 'none' : st.state === 'live' && this.held.length > 0 ? 'some' : 'all';
    if (this.stopRequested) {
      if (st.state === 'ended') this.endReason = st.reason ?? 'stopped';
      this.deps.onChange();
      return;
    }
    switch (st.state) {
      case 'live':
      case 'reconnecting':
        this.wentLive = true;
        if (this.stateValue.kind !== 'live') this.setState({ kind: 'live' });
        this.save();
        break;
      case 'connecting':
        // A resume the daemon could not match (the broadcast had ended) starts a new one.
        if (this.stateValue.kind === 'live') {
          this.newBroadcast = true;
          this.sinceValue = undefined;
          this.openedAt = now;
          this.setState({ kind: 'connecting' });
        }
        break;
      case 'ended':
        this.endReason = st.reason ?? 'stopped';
        // Nothing more will go out; stop recording (the socket close follows from the daemon).
        this.discardRecorder();
        break;
      default:
        break;
    }
    this.updateHealth(now);
    this.deps.onChange();
  }

  private onClose(c: CloseInfo): void {
    const k = this.stateValue.kind;
    if (k === 'ended') return;
    const unanswered = !c.byUs && !this.stopRequested && this.endReason === undefined && this.localError === undefined;
    if (k === 'away' && !this.stopRequested) {
      // A resume attempt that failed: the server unreachable, the connection cut again, or the
      // mount still held by Icecast after a daemon took over from a crashed one.
      const retryable = this.errorFrame === undefined
        ? unanswered && (closeIsResumable(c.code) || !c.opened)
        : c.code === 4409 && RETRYABLE_RESUME_REFUSALS.has(this.errorFrame.code);
      if (retryable) {
        this.errorFrame = undefined;
        this.client = undefined;
        this.scheduleResume();
        return;
      }
    }
    if (unanswered && this.errorFrame === undefined && k !== 'away' && this.accepted && closeIsResumable(c.code) && this.canResume()) {
      this.beginAway();
      return;
    }
    // Stop was pressed: however this connection ended (even refused, while away), it is a stop.
    this.end(this.stopRequested ? { ...c, byUs: true } : c);
  }

  private canResume(): boolean {
    return this.resumeToken !== undefined && this.sinceValue !== undefined && !this.stopRequested;
  }

  /** The connection is lost while on air: the daemon keeps the broadcast for a grace period. */
  private beginAway(): void {
    const old = this.client;
    this.client = undefined;
    this.accepted = false;
    this.discardRecorder();
    if (old !== undefined) {
      this.bytesBefore += old.bytesSent;
      // Still open (a heartbeat gap): close it, but not with 1000, which would end the broadcast.
      old.abort(CLOSE_FOR_RESUME);
    }
    this.healthValue = 'stalled';
    this.setState({ kind: 'away', since: this.deps.clock.now(), attempts: 0 });
    this.scheduleResume();
  }

  private scheduleResume(): void {
    const st = this.stateValue;
    if (st.kind !== 'away') return;
    const left = st.since + RESUME_GIVE_UP_MS - this.deps.clock.now();
    if (left <= 0) {
      this.localError = RESUME_FAILED;
      this.end({ code: 1006, reason: '', opened: true, byUs: false });
      return;
    }
    const delay = Math.min(resumeDelayMs(st.attempts), left);
    st.attempts++;
    this.attemptStartedAt = undefined;
    this.deps.clock.clearTimeout(this.attemptTimer);
    this.attemptTimer = this.deps.clock.setTimeout(() => {
      if (this.stateValue !== st) return;
      this.attemptStartedAt = this.deps.clock.now();
      this.connect(true);
    }, delay);
    this.deps.onChange();
  }

  // ---- the clock ----

  private scheduleTick(): void {
    this.timer = this.deps.clock.setTimeout(() => {
      if (this.isOver) return;
      this.tick();
      this.scheduleTick();
    }, TICK_MS);
  }

  private bytesSent(): number {
    const c = this.client;
    return this.bytesBefore + (c !== undefined && this.stateValue.kind !== 'away' ? c.bytesSent : 0);
  }

  private updateHealth(now: number): void {
    const c = this.client;
    if (this.stateValue.kind === 'away') {
      this.healthValue = 'stalled';
      return;
    }
    if (c === undefined) return;
    const sent = this.bytesSent();
    const backlog = c.backlog;
    if (sent > this.lastSent || backlog === 0) this.lastProgressAt = now;
    this.lastSent = sent;
    this.behind = backlog / this.deps.bytesPerSecond;
    let health: Health = 'good';
    if (this.behind >= STALLED_BACKLOG_S || (backlog > 0 && now - this.lastProgressAt >= STALLED_NO_PROGRESS_MS)) health = 'stalled';
    else if (this.behind >= SLOW_BACKLOG_S) health = 'slow';
    // The upload itself is fine, but the daemon cannot pass it on to (some) listeners.
    else if (this.audienceValue !== 'all' && this.accepted) health = 'held';
    if (c.isOpen) this.healthValue = health;
  }

  private tick(): void {
    const now = this.deps.clock.now();
    const st = this.stateValue;
    const c = this.client;
    this.updateHealth(now);
    if (st.kind === 'away') {
      // A resume attempt that neither opened nor got an answer in time: drop it, try the next.
      if (c !== undefined && !this.accepted && this.attemptStartedAt !== undefined && now - this.attemptStartedAt > RESUME_ATTEMPT_MS) {
        this.client = undefined;
        c.abort(CLOSE_FOR_RESUME);
        this.scheduleResume();
      }
      this.deps.onChange();
      return;
    }
    if (c === undefined || this.stopRequested) {
      this.deps.onChange();
      return;
    }
    if (this.behind >= GIVE_UP_BACKLOG_S) {
      // Never drop media silently; after a minute behind, stop and say so.
      this.localError = UPLOAD_TOO_SLOW;
      c.abort(1000);
      return;
    }
    // While connecting the daemon sends a status at least every 2 s; silence (or a socket that
    // never opens) means something between here and there is broken.
    if (st.kind === 'connecting' &&
        ((c.isOpen && now - this.lastMessageAt > CONNECT_SILENCE_MS) || now - this.openedAt > CONNECT_MAX_MS)) {
      this.localError = SERVER_SILENT;
      c.abort(1000);
      return;
    }
    // On air, a long gap between status frames is a dead connection (a network that vanished
    // without closing anything): resume on a new one.
    if (st.kind === 'live' && this.accepted && c.isOpen && now - this.lastMessageAt > HEARTBEAT_GAP_MS && this.canResume()) {
      this.beginAway();
      return;
    }
    this.deps.onChange();
  }

  // ---- the end ----

  private setState(s: SessionState): void {
    this.stateValue = s;
    this.deps.onChange();
  }

  private save(): void {
    if (this.deps.persist === undefined || this.resumeToken === undefined || this.sinceValue === undefined) return;
    // Never the password: a login token where there is one (accounts mode); without one
    // (passthrough) a reloaded page asks for the password again.
    const { password: _password, resume: _resume, token: _token, ...rest } = this.hello;
    const token = this.hello.token ?? this.deps.loginToken;
    const hello: Hello = { ...rest, password: '', ...(token !== undefined ? { token } : {}) };
    this.deps.persist({ url: this.url, hello, video: this.video, resume: this.resumeToken, since: this.sinceValue, savedAt: this.deps.clock.now() });
  }

  private end(c: CloseInfo): void {
    if (this.isOver) return;
    const now = this.deps.clock.now();
    this.deps.clock.clearTimeout(this.timer);
    this.deps.clock.clearTimeout(this.attemptTimer);
    this.discardRecorder();
    const client = this.client;
    // A resume attempt still in flight: nothing is to come of it.
    if (client !== undefined && !client.isClosed) client.abort(1000);
    const bytes = this.bytesSent();
    const durationMs = this.sinceValue !== undefined && this.wentLive ? Math.max(0, now - Date.parse(this.sinceValue)) : 0;
    const { reason, words, sentence } = this.howItEnded(c);
    if (!this.abandoned) this.deps.persist?.(undefined);
    this.healthValue = 'idle';
    this.stateValue = {
      kind: 'ended',
      end: { reason, words, sentence, wentLive: this.wentLive, durationMs, peakListeners: this.peak, bytes },
    };
    this.deps.onChange();
  }

  private howItEnded(c: CloseInfo): { reason: string; words: string; sentence: string | undefined } {
    const local: Record<string, [string, string]> = {
      [RESUME_FAILED]: ['connection-lost', 'the connection to the server was lost'],
      [UPLOAD_TOO_SLOW]: ['upload-too-slow', 'the upload could not keep up'],
      [RECORDER_FAILED]: ['recorder-failed', 'the browser stopped recording'],
      [SERVER_SILENT]: ['server-silent', 'the server did not answer'],
    };
    if (this.errorFrame !== undefined) {
      return { reason: this.endReason ?? 'refused', words: endWords(this.endReason) ?? 'the server ended it', sentence: this.errorFrame.message || closeSentence(c.code, c.opened) };
    }
    if (this.localError !== undefined) {
      const [reason, words] = local[this.localError] ?? ['device-lost', 'the microphone or camera stopped'];
      return { reason, words, sentence: this.localError };
    }
    if (c.byUs && (this.endReason === undefined || this.endReason === 'stopped')) return { reason: 'stopped', words: 'you pressed Stop', sentence: undefined };
    if (this.endReason !== undefined) {
      return { reason: this.endReason, words: endWords(this.endReason) ?? `the server ended it (${this.endReason})`, sentence: endReasonSentence(this.endReason) };
    }
    return { reason: `closed-${c.code}`, words: 'the connection closed', sentence: closeSentence(c.code, c.opened) };
  }
}
