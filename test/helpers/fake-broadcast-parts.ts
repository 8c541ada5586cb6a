// Stand-ins for what a Broadcast drives, for unit tests that run its whole life with a fake clock
// and no process: renditions whose Icecast side the test moves by hand, a sink that records what
// the broadcaster's page would get, and an Ogg/Opus upload made in memory.
import { EventEmitter } from 'node:events';
import type { IcewireError } from '../../server/errors.js';
import type { BroadcastSink, BroadcastStatus } from '../../server/broadcast/broadcast.js';
import type { OutputState } from '../../server/broadcast/rendition-output.js';
import type { Rendition } from '../../server/broadcast/rendition-pipe.js';
import type { RenditionContext } from '../../server/broadcast/renditions.js';
import { OggOpusWriter } from '../../server/pipeline/ogg-opus-writer.js';
import { kindFor, type RenditionKind, type RenditionPlan } from '../../server/pipeline/rendition-kinds.js';

/** A rendition whose Icecast connection the test accepts, refuses, loses and restores. */
export class FakeRendition extends EventEmitter implements Rendition {
  readonly kind: RenditionKind;
  readonly output = { state: 'connecting' as OutputState, bytesOut: 0, bufferedBytes: 0 };
  needsDrain = false;
  readonly pids: number[] = [];
  /** Everything written, in order: the Ogg header and audio pages, or the raw upload. */
  readonly written: Buffer[] = [];
  /** The silence pages among them (written into a gap). */
  readonly silencePages: Buffer[] = [];
  newStreams = 0;
  finishedWith: Buffer | undefined | 'not finished' = 'not finished';
  killed = false;
  private settleStart!: { resolve: () => void; reject: (e: IcewireError) => void };
  private readonly started: Promise<void>;

  constructor(readonly plan: RenditionPlan, readonly ctx: RenditionContext) {
    super();
    this.kind = kindFor(plan, ctx.input);
    this.started = new Promise((resolve, reject) => { this.settleStart = { resolve, reject }; });
  }

  start(): Promise<void> {
    return this.started;
  }

  /** Icecast accepted the stream. */
  accept(): void {
    this.output.state = 'live';
    this.settleStart.resolve();
  }

  /** Icecast refused it at the start. */
  refuse(err: IcewireError): void {
    this.settleStart.reject(err);
  }

  /** The Icecast connection broke; the output reconnects by itself. */
  lose(): void {
    this.setConnection('reconnecting');
  }

  restore(): void {
    this.setConnection('live');
  }

  /** The output gave up (or the pipe failed). */
  fail(err: IcewireError): void {
    this.emit('failed', err);
  }

  oggHeaders(pages: Buffer): void {
    this.written.push(pages);
  }

  oggPages(pages: Buffer, silence = false): boolean {
    this.written.push(pages);
    if (silence) this.silencePages.push(pages);
    this.output.bytesOut += pages.length;
    return !this.needsDrain;
  }

  raw(chunk: Buffer): boolean {
    if (this.kind.feed === 'upload') this.written.push(chunk);
    return !this.needsDrain;
  }

  newRawStream(): void {
    this.newStreams++;
  }

  async finish(eosPage: Buffer | undefined): Promise<void> {
    this.finishedWith = eosPage;
    this.setConnection('ended');
  }

  async kill(): Promise<void> {
    this.killed = true;
  }

  /** Bytes written so far. */
  get bytesWritten(): number {
    return this.written.reduce((n, b) => n + b.length, 0);
  }

  private setConnection(s: OutputState): void {
    this.output.state = s;
    this.emit('state', s);
  }
}

/** The broadcaster's side of the socket: the frames the page would get, and how it was closed. */
export class FakeSink implements BroadcastSink {
  readonly statuses: BroadcastStatus[] = [];
  closed: { err: IcewireError | undefined } | undefined;

  sendStatus(status: BroadcastStatus): void {
    this.statuses.push(status);
  }

  close(err: IcewireError | undefined): void {
    this.closed = { err };
  }

  get last(): BroadcastStatus | undefined {
    return this.statuses.at(-1);
  }

  /** The states the page saw, repeats folded. */
  get states(): string[] {
    return this.statuses.map((s) => s.state).filter((s, i, a) => i === 0 || a[i - 1] !== s);
  }
}

const OPUS_HEAD = Buffer.from([
  ...Buffer.from('OpusHead', 'latin1'), 1, 2, 0x38, 0x01, 0x80, 0xbb, 0x00, 0x00, 0x00, 0x00, 0x00,
]);

/** A 20 ms CELT fullband stereo packet (TOC 0xFC) carrying `tag`, so tests can find it again. */
export function opusPacket(tag: number): Buffer {
  return Buffer.from([0xfc, 0xff, 0xfe, tag & 0xff, (tag >> 8) & 0xff]);
}

/** An Ogg/Opus upload as Firefox sends it: the header pages, then one page per 20 ms packet. */
export class OggUpload {
  private readonly writer = new OggOpusWriter({ serial: 0x1234, opusHead: OPUS_HEAD });
  private n = 0;

  /** The first chunk of a connection's stream. */
  header(): Buffer {
    return this.writer.headers();
  }

  /** The next `count` packets (20 ms each), as one chunk. */
  audio(count: number): Buffer {
    const pages: Buffer[] = [];
    for (let i = 0; i < count; i++) pages.push(this.writer.packet(opusPacket(this.n++)));
    return Buffer.concat(pages);
  }
}
