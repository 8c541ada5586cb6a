// The one module that runs ffmpeg (through fluent-ffmpeg). An FfmpegProcess takes the
// broadcaster's bytes on stdin and gives one rendition's bytes on stdout.
// - start() resolves once the child is spawned; spawn failures reject with a clear error.
// - 'exit' fires exactly once, telling a clean end (after stop()) from a crash, and a crash from
//   an ffmpeg that never worked (exited by itself before writing any output).
// - stop() ends stdin so ffmpeg finishes the container (Ogg end pages), then SIGTERM, then SIGKILL.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PassThrough, type Readable } from 'node:stream';
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
  /** stdin buffer before write() returns false. */
  readonly highWaterMark?: number;
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

export declare interface FfmpegProcess {
  on(event: 'exit', listener: (exit: FfmpegExit) => void): this;
  on(event: 'drain', listener: () => void): this;
  once(event: 'exit', listener: (exit: FfmpegExit) => void): this;
}

export class FfmpegProcess extends EventEmitter {
  private readonly stdin: PassThrough;
  /** The rendition's bytes. */
  readonly stdout: PassThrough;
  private readonly stderr: string[] = [];
  private child: ChildProcess | undefined;
  private stopping = false;
  private exitInfo: FfmpegExit | undefined;
  private readonly exited: Promise<FfmpegExit>;
  private resolveExited!: (e: FfmpegExit) => void;
  private timers: NodeJS.Timeout[] = [];
  private producedOutput = false;

  constructor(private readonly opts: FfmpegProcessOptions) {
    super();
    const hwm = opts.highWaterMark ?? 256 * 1024;
    this.stdin = new PassThrough({ highWaterMark: hwm });
    // emitClose false: fluent-ffmpeg kills ffmpeg 20 ms after its output stream closes, which
    // would race a clean exit; we watch the child's own exit instead.
    this.stdout = new PassThrough({ highWaterMark: hwm, emitClose: false });
    this.stdin.on('drain', () => this.emit('drain'));
    // the consumer adds its own 'data' listener in the same tick, before any output can arrive
    this.stdout.once('data', () => { this.producedOutput = true; });
    this.exited = new Promise((resolve) => { this.resolveExited = resolve; });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.exitInfo === undefined;
  }

  async start(): Promise<void> {
    const ffmpeg = await loadFluentFfmpeg();
    return new Promise((resolve, reject) => {
      const cmd = ffmpeg({ stdoutLines: STDERR_LINES })
        .setFfmpegPath(this.opts.ffmpegPath)
        .input(this.stdin as Readable)
        .inputOptions([...this.opts.inputOptions])
        .output(this.stdout)
        .outputOptions([...this.opts.outputOptions]);
      let started = false;
      cmd.on('start', (line: string) => {
        started = true;
        this.child = (cmd as unknown as { ffmpegProc: ChildProcess }).ffmpegProc;
        this.opts.logger.debug('ffmpeg started', { pid: this.child.pid, argv: line });
        this.child.once('exit', (code, signal) => this.onExit(code, signal));
        resolve();
      });
      cmd.on('stderr', (line: string) => {
        if (line.trim() === '') return;
        this.stderr.push(line);
        if (this.stderr.length > STDERR_LINES) this.stderr.shift();
        this.opts.logger.debug('ffmpeg stderr', { pid: this.child?.pid, line });
      });
      cmd.on('error', (err: Error) => {
        if (!started) {
          const notFound = /ENOENT|Cannot find ffmpeg/.test(err.message);
          const detail = notFound ? `ffmpeg not found at "${this.opts.ffmpegPath}": install ffmpeg (apt install ffmpeg) or set ffmpegPath` : err.message;
          this.stderr.push(detail);
          // never spawned: there will be no child 'exit', so settle here (exactly once)
          if (this.exitInfo === undefined) this.onExit(null, null);
          reject(new IcewireError('IW_ERR_PIPELINE_START_FAILED', { detail, cause: err }));
        }
        // After start, the child's own 'exit' tells what happened.
      });
      cmd.run();
    });
  }

  /** Write broadcaster bytes. false = buffer full: wait for 'drain' before writing more. */
  write(chunk: Buffer): boolean {
    if (this.stopping || this.exitInfo !== undefined) return true;
    return this.stdin.write(chunk);
  }

  /** A write returned false and 'drain' has not come yet: exactly the state 'drain' ends. */
  get needsDrain(): boolean {
    return this.stdin.writableNeedDrain;
  }

  get writableLength(): number {
    return this.stdin.writableLength + this.stdin.readableLength;
  }

  /** End stdin so ffmpeg finishes the container, then escalate. Resolves on exit. */
  stop(graceMs = this.opts.stopGraceMs ?? 3000): Promise<FfmpegExit> {
    if (!this.stopping && this.exitInfo === undefined) {
      this.stopping = true;
      this.stdin.end();
      this.timers.push(setTimeout(() => this.signal('SIGTERM'), graceMs).unref());
      this.timers.push(setTimeout(() => this.signal('SIGKILL'), graceMs + 2000).unref());
    }
    return this.exited;
  }

  /** SIGKILL now (daemon shutdown's last resort, fault tests). */
  kill(): Promise<FfmpegExit> {
    this.stopping = true;
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
    this.stdin.destroy();
    this.resolveExited(this.exitInfo);
    try {
      this.emit('exit', this.exitInfo);
    } catch (err) {
      // a listener's bug must not take the daemon down
      this.opts.logger.error('ffmpeg exit listener threw', { err });
    }
  }
}
