// The icewire command as a real process, for every suite that runs it that way (the CLI tests, the
// hostile suite, the recordings' SIGTERM test, the unprivileged run, the soak): spawnDaemon()
// starts `icewire serve` and waits until it listens; runIcewire() runs a command to its end.
// Their output joins the suite-wide log lines the secrets check reads.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launcherOf } from '../../bench/launcher.js';
import { PACKAGE_ROOT } from '../../server/paths.js';
import { waitFor } from './listener.js';
import { ALL_LOG_LINES } from './stack.js';
import { afterThisTest } from './teardown.js';

export const MAIN = join(PACKAGE_ROOT, 'dist', 'server', 'main.js');

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Only `env` (and PATH), not this process's environment: what a daemon's environment would have. */
  readonly cleanEnv?: boolean;
  readonly cwd?: string;
}

export interface Exit { readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly at: number }

function environment(o: RunOptions): NodeJS.ProcessEnv {
  return o.cleanEnv ? { PATH: process.env.PATH ?? '/usr/bin:/bin', ...o.env } : { ...process.env, ...o.env };
}

/** Run `icewire <args>` to its end (stdin gets `input`). `wrap` runs it under another command. */
export function runIcewire(args: string[], o: RunOptions & { input?: string; wrap?: string[] } = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const argv = [...(o.wrap ?? []), process.execPath, MAIN, ...args];
    const child = spawn(argv[0]!, argv.slice(1), { env: environment(o), ...(o.cwd !== undefined ? { cwd: o.cwd } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      ALL_LOG_LINES.push(...stdout.split('\n'), ...stderr.split('\n'));
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(o.input ?? '');
  });
}

export interface DaemonOptions extends RunOptions {
  /** The config (written to a file; YAML is a superset of JSON) for `serve --config <file>`. */
  readonly config?: Record<string, unknown>;
  /** icewire's arguments instead (e.g. `serve --listen …` without a config). */
  readonly args?: string[];
  /** The whole command line instead (e.g. the daemon inside unshare as the unit runs it). */
  readonly argv?: string[];
  /** Keep only the last this many characters of output (long runs). */
  readonly maxOutputChars?: number;
  /**
   * Run it as installed: with the node flags and variables of main.js's #! line (the memory
   * settings `icewire serve` and the systemd unit start it with), where memory is measured.
   */
  readonly asInstalled?: boolean;
}

export interface DaemonProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** http://host:port, no trailing slash. */
  readonly url: string;
  /** ws://host:port/ws/ */
  readonly wsBase: string;
  /** The config file, when the daemon was started with `config` (a test may rewrite it, then SIGHUP). */
  readonly configFile: string | undefined;
  readonly exited: Promise<Exit>;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Signal it (SIGTERM by default) and wait for the exit (SIGKILL after 10 s). Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
}

/**
 * Start `icewire serve` and resolve once it logged where it listens; rejects (with its output) if
 * it exits first. Started inside a test, it is stopped when the test ends.
 */
export async function spawnDaemon(o: DaemonOptions): Promise<DaemonProcess> {
  let configFile: string | undefined;
  if (o.config !== undefined) {
    configFile = join(mkdtempSync(join(tmpdir(), 'icewire-conf-')), 'icewire.yaml');
    writeFileSync(configFile, JSON.stringify(o.config, null, 2));
  }
  const launcher = o.asInstalled === true ? launcherOf(MAIN) : { nodeArgs: [], env: {} };
  const argv = o.argv ?? [process.execPath, ...launcher.nodeArgs, MAIN, ...(o.args ?? ['serve', '--config', configFile!])];
  const child = spawn(argv[0]!, argv.slice(1), { env: environment({ ...o, env: { ...launcher.env, ...o.env } }), ...(o.cwd !== undefined ? { cwd: o.cwd } : {}) });
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (o.maxOutputChars !== undefined && out.length > o.maxOutputChars) out = out.slice(-o.maxOutputChars);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  let logged = false;
  let stopping: Promise<Exit> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 10000);
      const exit = await exited;
      clearTimeout(t);
      if (!logged) { logged = true; ALL_LOG_LINES.push(...out.split('\n')); }
      return exit;
    })();
    return stopping;
  };
  afterThisTest(() => stop('SIGKILL'));
  const url = await waitFor('the daemon to listen', () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the daemon exited (${child.exitCode ?? child.signalCode}): ${out}`);
    // the listening line's url: with metrics.listen set, a line naming the metrics address comes first
    const line = out.split('\n').find((l) => l.includes('icewire is listening'));
    return line === undefined ? undefined : /"url":"(http:\/\/[^"]+?)\/?"/.exec(line)?.[1];
  }, 10000);
  return {
    child, url, wsBase: `${url.replace(/^http/, 'ws')}/ws/`, configFile, exited,
    output: () => out,
    stop,
  };
}
