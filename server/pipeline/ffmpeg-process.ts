// The one module that runs ffmpeg (through fluent-ffmpeg). An FfmpegProcess takes the
// broadcaster's bytes on stdin and gives one rendition's bytes on stdout.
// - fluent-ffmpeg builds the command and spawns the child; the bytes go straight to the child's
//   own stdin pipe and come straight from its own stdout pipe (no Node stream in between).
//   What is written before the spawn waits here, bounded like a Writable (write() false at
//   highWaterMark, then 'drain' when it has all gone into the pipe).
// - start() resolves once the child is spawned; spawn failures reject with a clear error.
// - 'exit' fires exactly once, telling a clean end (after stop()) from a crash, and a crash from
//   an ffmpeg that never worked (exited by itself before writing any output).
// - stop() ends stdin so ffmpeg finishes the container (Ogg end pages), then SIGTERM, then SIGKILL.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Readable, Writable } from 'node:stream';
import type FluentFfmpeg from 'fluent-ffmpeg';
import { execFile, type ChildProcess } from 'node:child_process';
import { IcewireError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { classifyFfmpegExit, summarizeStderr } from './ffmpeg-errors.js';

const STDERR_LINES = 40;

let fluentFfmpeg: Promise<typeof FluentFfmpeg> | undefined;

/** fluent-ffmpeg, loaded with the first ffmpeg the daemon runs: an idle daemon (or a copy-only one) needs none. */
function loadFluentFfmpeg(): Promise<typeof FluentFfmpeg> {
  fluentFfmpeg ??= import('fluent-ffmpeg').then((m) => m.default);
  return fluentFfmpeg;
}

export interface FfmpegExit {
  /** true when ffmpeg ended because stop() asked it to and it finished on its own. */
  readonly clean: boolean;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** For a crash: the mapped error code (IW_ERR_PIPELINE_START_FAILED: it never worked). */
  readonly errorCode: ErrorCode | undefined;
  /** It wrote output before it ended. */
  readonly producedOutput: boolean;
  readonly stderr: readonly string[];
}

export interface FfmpegProcessOptions {
  readonly ffmpegPath: string;
  readonly inputOptions: readonly string[];
  readonly outputOptions: readonly string[];
  readonly logger: Logger;
  /** How long to wait after ending stdin before SIGTERM. */
  readonly stopGraceMs?: number;
  /** Bytes queued for stdin before write() returns false. */
  readonly highWaterMark?: number;
  /**
   * Each chunk ffmpeg writes to stdout: attached as the 'data' listener of the child's own pipe
   * the moment it spawns (no stream in between). Without it the output is read and discarded.
   */
  readonly onOutput?: (chunk: Buffer) => void;
}

const QUERY_TIMEOUT_MS = 15000;

/**
 * A short, bounded ffmpeg query (`-version`, `-encoders`…) for `icewire doctor`: argument array,
 * no shell. Resolves with stdout; rejects with the spawn error (ENOENT/EACCES) or a failed run.
 */
export function queryFfmpeg(path: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(path, [...args], { timeout: QUERY_TIMEOUT_MS, maxBuffer: 8 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err !== null) {
        reject(Object.assign(err, { stderr }));
        return;
      }
      resolve(stdout);
    });
  });
}

/** ffmpeg binary: configured path, else ffmpeg-static when installed, else `ffmpeg` on PATH. */
export function resolveFfmpegPath(configured: string | undefined): string {
  if (configured !== undefined) return configured;
  try {
    const req = createRequire(import.meta.url);
    const p = req('ffmpeg-static') as unknown;
    if (typeof p === 'string' && existsSync(p)) return p;
  } catch {
    // optional dependency not installed (its install step needs a download): use the system one
  }
  return 'ffmpeg';
}

/**
 * Before its first command runs, fluent-ffmpeg checks the formats and encoders it names by running
 * `ffmpeg -formats` and `ffmpeg -encoders`, and keeps the answers (module-wide). Commands started
 * before the first answer came each ran both: at a daemon's start, the first transcoded broadcasts
 * took 0.9-1.8 s to go live instead of 50 ms. One query at a time serves them all; a failed one
 * (no ffmpeg there) leaves each command to run and report its own.
 */
let capabilities: Promise<void> | undefined;
function capabilitiesKnown(ffmpeg: typeof FluentFfmpeg, ffmpegPath: string): Promise<void> {
  capabilities ??= new Promise<void>((resolve) => {
    const probe = ffmpeg().setFfmpegPath(ffmpegPath);
    probe.availableFormats((formatsErr: unknown) => {
      if (formatsErr) { resolve(); return; }
      probe.availableEncoders(() => resolve());
    });
  }).then(() => { capabilities = undefined; });
  return capabilities;
}

export declare interface FfmpegProcess {
  on(event: 'exit', listener: (exit: FfmpegExit) => void): this;
  on(event: 'drain', listener: () => void): this;
  once(event: 'exit', listener: (exit: FfmpegExit) => void): this;
}

export class FfmpegProcess extends EventEmitter {
  /** Bytes written before the child exists: written into its stdin as it spawns. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly highWaterMark: number;
  /** A write() returned false and 'drain' has not come yet (a Writable's needDrain). */
  private needDrain = false;
  private readonly stderr: string[] = [];
  private child: ChildProcess | undefined;
  /** The child's own stdin pipe, once it runs. */
  private stdinPipe: Writable | undefined;
  /** The child's own stdout pipe, once it runs. */
  private stdoutPipe: Readable | undefined;
  /** dropOutput() was called: the consumer wants no more of this ffmpeg's bytes. */
  private outputDropped = false;
  private stopping = false;
  /** kill() came before the child existed: it is killed as it spawns. */
  private killRequested = false;
  private exitInfo: FfmpegExit | undefined;
  private readonly exited: Promise<FfmpegExit>;
  private resolveExited!: (e: FfmpegExit) => void;
  private readonly outputEnd: Promise<void>;
  private resolveOutputEnd!: () => void;
  private timers: NodeJS.Timeout[] = [];
  private producedOutput = false;

  constructor(private readonly opts: FfmpegProcessOptions) {
    super();
    this.highWaterMark = opts.highWaterMark ?? 256 * 1024;
    this.exited = new Promise((resolve) => { this.resolveExited = resolve; });
    this.outputEnd = new Promise((resolve) => { this.resolveOutputEnd = resolve; });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.exitInfo === undefined;
  }

  /**
   * The rendition's bytes: ffmpeg's own stdout pipe once it runs (undefined before), with
   * `onOutput` as its 'data' listener. The consumer pauses it while its own side is full and
   * resumes it after.
   */
  get stdout(): Readable | undefined {
    return this.stdoutPipe;
  }

  async start(): Promise<void> {
    const ffmpeg = await loadFluentFfmpeg();
    return new Promise((resolve, reject) => {
      // 'pipe:0'/'pipe:1' as strings: fluent-ffmpeg builds the command and spawns the child with
      // piped stdio, and pipes nothing into or out of it (a stream given as input or output is
      // pipe()d to the child, one more stream per direction, and an output stream's 'close'
      // makes fluent-ffmpeg kill the child 20 ms later).
      const cmd = ffmpeg({ stdoutLines: STDERR_LINES })
        .setFfmpegPath(this.opts.ffmpegPath)
        .input('pipe:0')
        .inputOptions([...this.opts.inputOptions])
        .output('pipe:1')
        .outputOptions([...this.opts.outputOptions]);
      let started = false;
      const failStart = (err: Error): void => {
        if (started) return;
        started = true;
        const notFound = /ENOENT|Cannot find ffmpeg/.test(err.message);
        const detail = notFound ? `ffmpeg not found at "${this.opts.ffmpegPath}": install ffmpeg (apt install ffmpeg) or set ffmpegPath` : err.message;
        this.stderr.push(detail);
        // never spawned: there will be no child 'exit', so settle here (exactly once)
        if (this.exitInfo === undefined) this.onExit(null, null);
        reject(new IcewireError('IW_ERR_PIPELINE_START_FAILED', { detail, cause: err }));
      };
      cmd.on('start', (line: string) => {
        const child = (cmd as unknown as { ffmpegProc: ChildProcess }).ffmpegProc;
        // fluent-ffmpeg's own 'error' listener on the child calls its end callback without the
        // output rings it then reads: a TypeError thrown out of the event (a spawn that failed
        // with ENOENT/EAGAIN/EMFILE, a signal that could not be sent) would take the daemon down
        child.removeAllListeners('error');
        child.on('error', (err: Error) => {
          if (!started) failStart(err);
          else this.opts.logger.warn('ffmpeg process error', { pid: child.pid, err: err.message });
        });
        // no pid: the spawn itself failed; the child's 'error' follows
        if (child.pid === undefined || child.stdin === null || child.stdout === null) return;
        started = true;
        this.child = child;
        this.opts.logger.debug('ffmpeg started', { pid: child.pid, argv: line });
        child.once('exit', (code, signal) => this.onExit(code, signal));
        this.attachStdout(child.stdout);
        this.attachStdin(child.stdin);
        if (this.killRequested) this.signal('SIGKILL');
        resolve();
      });
      cmd.on('stderr', (line: string) => {
        if (line.trim() === '') return;
        this.stderr.push(line);
        if (this.stderr.length > STDERR_LINES) this.stderr.shift();
        this.opts.logger.debug('ffmpeg stderr', { pid: this.child?.pid, line });
      });
      // Before the spawn (no ffmpeg there, its capability query failed). After it, the child's
      // own 'exit' tells what happened.
      cmd.on('error', failStart);
      void capabilitiesKnown(ffmpeg, this.opts.ffmpegPath).then(() => cmd.run());
    });
  }

  /**
   * Runs as fluent-ffmpeg reports the spawn, before any output can have been read. With an output
   * that is not a stream, fluent-ffmpeg keeps the child's stdout as text lines in a ring (its
   * `captureStdout`): its one 'data' listener, taken off here, or every chunk of media would be
   * decoded as text and split into lines. The consumer's listener reads the pipe itself.
   */
  private attachStdout(stdout: Readable): void {
    stdout.removeAllListeners('data');
    this.stdoutPipe = stdout;
    stdout.once('data', () => { this.producedOutput = true; });
    const done = (): void => this.resolveOutputEnd();
    stdout.once('end', done);
    stdout.once('close', done);
    // nothing reads it otherwise: discarded as it comes, so ffmpeg never blocks on a full pipe
    if (this.opts.onOutput !== undefined && !this.outputDropped) stdout.on('data', this.opts.onOutput);
    stdout.resume();
  }

  /** What was written before the spawn goes first (in one writev); stop() before the spawn ends it. */
  private attachStdin(stdin: Writable): void {
    this.stdinPipe = stdin;
    // EPIPE once ffmpeg has died: its 'exit' tells what happened, the daemon carries on
    stdin.on('error', (err: NodeJS.ErrnoException) => {
      this.opts.logger.debug('ffmpeg stdin closed', { pid: this.child?.pid, code: err.code });
    });
    if (this.pending.length > 0) {
      stdin.cork();
      for (const chunk of this.pending) stdin.write(chunk, this.written);
      stdin.uncork();
    }
    this.pending = [];
    this.pendingBytes = 0;
    if (this.stopping) stdin.end();
  }

  /** Each write's callback (one function for all: Node batches them): 'drain' once stdin's buffer is empty. */
  private readonly written = (): void => {
    if (!this.needDrain || (this.stdinPipe?.writableLength ?? 0) > 0) return;
    this.needDrain = false;
    if (this.stopping || this.exitInfo !== undefined) return;
    this.emit('drain');
  };

  /** Write broadcaster bytes. false = buffer full: wait for 'drain' before writing more. */
  write(chunk: Buffer): boolean {
    if (this.stopping || this.exitInfo !== undefined) return true;
    if (this.stdinPipe === undefined) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
    } else {
      this.stdinPipe.write(chunk, this.written);
    }
    // a Writable's rule, at this object's highWaterMark (the pipe's own is smaller)
    if (this.writableLength < this.highWaterMark) return true;
    this.needDrain = true;
    return false;
  }

  /** A write returned false and 'drain' has not come yet: exactly the state 'drain' ends. */
  get needsDrain(): boolean {
    return this.needDrain && !this.stopping && this.exitInfo === undefined;
  }

  /** Bytes written and not yet taken by ffmpeg. */
  get writableLength(): number {
    if (this.exitInfo !== undefined) return 0;
    return this.pendingBytes + (this.stdinPipe?.writableLength ?? 0);
  }

  /** Resolves when ffmpeg's stdout has ended (at once if it never ran); the consumer must be reading it. */
  outputEnded(): Promise<void> {
    return this.outputEnd;
  }

  /** No more of this ffmpeg's output for the consumer: what it still writes is read and discarded. */
  dropOutput(): void {
    this.outputDropped = true;
    const stdout = this.stdoutPipe;
    if (stdout === undefined) return;
    if (this.opts.onOutput !== undefined) stdout.removeListener('data', this.opts.onOutput);
    stdout.resume();
  }

  /** End stdin so ffmpeg finishes the container, then escalate. Resolves on exit. */
  stop(graceMs = this.opts.stopGraceMs ?? 3000): Promise<FfmpegExit> {
    if (!this.stopping && this.exitInfo === undefined) {
      this.stopping = true;
      // not spawned yet: attachStdin() writes what is pending and ends it
      this.stdinPipe?.end();
      this.timers.push(setTimeout(() => this.signal('SIGTERM'), graceMs).unref());
      this.timers.push(setTimeout(() => this.signal('SIGKILL'), graceMs + 2000).unref());
    }
    return this.exited;
  }

  /** SIGKILL now (daemon shutdown's last resort); before the spawn, as it spawns. Its output is discarded. */
  kill(): Promise<FfmpegExit> {
    this.stopping = true;
    this.killRequested = true;
    // a stdout the consumer paused would otherwise never be read to its end, and never closed
    this.dropOutput();
    this.signal('SIGKILL');
    return this.exited;
  }

  private signal(sig: NodeJS.Signals): void {
    if (this.child !== undefined && this.exitInfo === undefined) {
      this.opts.logger.debug('signalling ffmpeg', { pid: this.child.pid, signal: sig });
      this.child.kill(sig);
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    for (const t of this.timers) clearTimeout(t);
    // A stop that ends in SIGTERM still produced a finished stream only if ffmpeg exited 0/255.
    const clean = this.stopping && (code === 0 || code === 255 || signal === 'SIGTERM');
    const stderr = [...this.stderr];
    const producedOutput = this.producedOutput;
    this.exitInfo = {
      clean,
      code,
      signal,
      errorCode: clean ? undefined : classifyFfmpegExit({ stderr, producedOutput, signal }),
      producedOutput,
      stderr,
    };
    if (!clean) {
      const what = producedOutput || signal !== null ? 'ffmpeg exited' : 'ffmpeg exited before writing any output';
      this.opts.logger.warn(what, { pid: this.child?.pid, code, signal, stderr: summarizeStderr(stderr) });
    }
    this.pending = [];
    this.pendingBytes = 0;
    this.stdinPipe?.destroy();
    // never spawned: no output will come
    if (this.stdoutPipe === undefined) this.resolveOutputEnd();
    this.resolveExited(this.exitInfo);
    try {
      this.emit('exit', this.exitInfo);
    } catch (err) {
      // a listener's bug must not take the daemon down
      this.opts.logger.error('ffmpeg exit listener threw', { err });
    }
  }
}
