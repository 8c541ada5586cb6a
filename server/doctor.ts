// `icewire doctor`: checks an installation the way the daemon will use it, and says what to do
// about each problem. One line per check, `ok|FAIL|warn  <what>`, and under a FAIL or warn a
// `fix:` line with the exact action. Exit 0 when nothing failed (warnings allowed), 1 when a check
// failed, 78 (EX_CONFIG, like check-config) when the config itself is invalid.
//
// Each check does what the daemon does, for real: runs the configured ffmpeg, asks it for its
// encoders and muxers, talks HTTP to icecast.url, and logs in to every Icecast mount as a source
// (a PUT that sends no audio and closes at once; doctor waits until Icecast has dropped the mount
// again, so it leaves nothing behind; on an MP3 mount it first sets a probe title and sends a
// fraction of a second of silence to learn the mount's title charset). Nothing it prints contains a secret: lines name config keys,
// files and environment variables, never their values.
//
// runDoctor() takes injectable dependencies so tests can drive it in-process; the CLI path is
// doctorCommand(), which main.ts calls.
import { open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, DEFAULT_CONFIG_PATH, defaultConfig, formatConfigError, loadConfigFile } from './config/load.js';
import type { Config } from './config/schema.js';
import { IcecastSource } from './icecast/icecast-source.js';
import { createLogger } from './log.js';
import { queryFfmpeg } from './pipeline/ffmpeg-process.js';
import type { CheckStatus, DoctorCheck, DoctorContext, DoctorDeps, HttpAnswer } from './doctor/context.js';
import { checkFfmpeg } from './doctor/ffmpeg-check.js';
import { checkRecordingsDir, checkPublicUrls } from './doctor/host-check.js';
import { checkIcecastReachable, checkSourceLogins } from './doctor/icecast-check.js';

export type { CheckStatus, DoctorCheck, DoctorDeps, HttpAnswer };
export { ffmpegNeeds, parseFfmpegList, type FfmpegComponentKind, type FfmpegNeed } from './doctor/ffmpeg-check.js';

export const EX_CONFIG = 78;

/** `ok    what` / `FAIL  what`, then `      fix: …` when there is one. */
export function formatCheck(c: DoctorCheck): string {
  const head = `${c.status.padEnd(4)}  ${c.what}`;
  return c.fix === undefined ? head : `${head}\n      fix: ${c.fix}`;
}

async function httpGetReal(url: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { 'User-Agent': 'icewire-doctor', ...headers } });
  const body = await res.text();
  return { status: res.status, server: res.headers.get('server'), body };
}

async function tryWriteReal(dir: string): Promise<void> {
  const st = await stat(dir);
  if (!st.isDirectory()) throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' });
  const probe = join(dir, `.icewire-doctor-${process.pid}`);
  const fh = await open(probe, 'wx', 0o600);
  await fh.close();
  await unlink(probe);
}

function defaultDeps(): DoctorDeps {
  const logger = createLogger({ console: false });
  logger.silent = true; // doctor's own lines are the output; IcecastSource's debug lines are not
  return {
    runFfmpeg: queryFfmpeg,
    httpGet: httpGetReal,
    openSource: (opts) => new IcecastSource({ ...opts, logger }),
    tryWrite: tryWriteReal,
  };
}

export interface DoctorOptions {
  /** The config file the config came from (named in fixes); undefined = built-in defaults. */
  readonly configFile?: string | undefined;
  /** For naming where the source password came from; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  readonly deps?: Partial<DoctorDeps>;
  /** Called with each check as soon as it is done (the CLI prints it). */
  readonly onCheck?: (c: DoctorCheck) => void;
}

/** Run every check on a loaded config. */
export async function runDoctor(config: Config, opts: DoctorOptions = {}): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const ctx: DoctorContext = {
    config,
    deps: { ...defaultDeps(), ...opts.deps },
    env: opts.env ?? process.env,
    inFile: opts.configFile !== undefined ? `in ${opts.configFile}` : `in ${DEFAULT_CONFIG_PATH} (start from config.sample.yaml)`,
    add(status: CheckStatus, what: string, fix?: string): void {
      const c: DoctorCheck = fix === undefined ? { status, what } : { status, what, fix };
      checks.push(c);
      opts.onCheck?.(c);
    },
  };
  await checkFfmpeg(ctx);
  const reachable = await checkIcecastReachable(ctx);
  await checkSourceLogins(ctx, reachable);
  await checkRecordingsDir(ctx);
  checkPublicUrls(ctx);
  return checks;
}

export function exitCodeFor(checks: readonly DoctorCheck[]): 0 | 1 {
  return checks.some((c) => c.status === 'FAIL') ? 1 : 0;
}

/**
 * The CLI: load the config (a file, else built-in passthrough defaults), print one line per
 * check, return the exit code (0 ok, 1 a check failed, 78 the config is invalid).
 */
export async function doctorCommand(o: {
  file: string | undefined;
  write: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  deps?: Partial<DoctorDeps>;
}): Promise<number> {
  const env = o.env ?? process.env;
  let config: Config;
  try {
    config = o.file !== undefined ? loadConfigFile(o.file, env) : defaultConfig({}, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    o.write(formatCheck({ status: 'FAIL', what: `config ${o.file ?? '(defaults)'} is invalid:` }));
    for (const line of formatConfigError(err, o.file).split('\n')) o.write(`      ${line}`);
    o.write(`      fix: correct what is named above${o.file !== undefined ? `, then check again: icewire check-config ${o.file}` : ''}`);
    return EX_CONFIG;
  }
  const stations = Object.keys(config.mounts).length;
  const renditions = Object.values(config.mounts).reduce((n, m) => n + m.renditions.length, 0);
  o.write(formatCheck({
    status: 'ok',
    what: o.file !== undefined
      ? `config ${o.file} (${config.auth.mode} mode, ${stations} station mount(s), ${renditions} Icecast mount(s), ${config.broadcasters.length} broadcaster(s))`
      : `config: none (no ${DEFAULT_CONFIG_PATH}): passthrough mode against ${config.icecast.url}`,
  }));
  const checks = await runDoctor(config, { configFile: o.file, env, deps: o.deps, onCheck: (c) => o.write(formatCheck(c)) });
  const fails = checks.filter((c) => c.status === 'FAIL').length;
  const warns = checks.filter((c) => c.status === 'warn').length;
  o.write(fails === 0
    ? `icewire doctor: all checks passed${warns > 0 ? ` (${warns} warning(s))` : ''}`
    : `icewire doctor: ${fails} check(s) failed${warns > 0 ? `, ${warns} warning(s)` : ''}`);
  return exitCodeFor(checks);
}
