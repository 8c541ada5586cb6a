#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=2
// Process entry: cli -> config -> daemon -> signals -> exit code.
//
// The #! line is the daemon's launcher (what `icewire serve` and the systemd unit run; the bench
// starts the daemon with the same flags and variables): memory settings for a long-running daemon
// whose work is many small buffers, measured in docs/performance.md (Idle, Video). Each trades
// little or no CPU for resident memory that would otherwise never come back:
// - MALLOC_ARENA_MAX=2: glibc gives each thread that mallocs its own arena (with four video
//   streams: three of 16 MB resident besides the main heap).
// - MALLOC_MMAP_THRESHOLD_=131072, fixed: glibc otherwise raises it after the first large free,
//   and large buffers (scrypt's 16 MiB work areas, docs/security.md) then stay in the heap.
// - --max-semi-space-size=2 (MB): V8's young generation stops growing at 2 × 2 MB instead of
//   2 × 16 MB; short-lived garbage (and the socket buffers it holds) is collected sooner.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CommanderError } from 'commander';
import { buildCli, type DoctorCliOptions, type ServeOptions } from './cli.js';
import { ConfigError, DEFAULT_CONFIG_PATH, defaultConfig, formatConfigError, loadConfigFile, redactedConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { createDaemon } from './daemon.js';
import { hashPassword } from './auth/password-hash.js';
import { createLogger } from './log.js';
import { PACKAGE_ROOT } from './paths.js';

const EX_CONFIG = 78;
/** The daemon exits within this after SIGTERM whatever happens (systemd's TimeoutStopSec is above it). */
const HARD_STOP_MS = 9500;

class ExitError extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
  }
}

function loadOrExit(file: string | undefined, overrides: ServeOptions): Config {
  try {
    const base = file !== undefined ? loadConfigFile(file) : defaultConfig({
      ...(overrides.icecast !== undefined ? { icecastUrl: overrides.icecast } : {}),
      ...(overrides.listen !== undefined ? { listen: overrides.listen } : {}),
    });
    return applyOverrides(base, overrides);
  } catch (err) {
    if (err instanceof ConfigError) throw new ExitError(EX_CONFIG, `invalid config:\n${formatConfigError(err, file)}`);
    throw err;
  }
}

/** Command-line flags win over the file. */
function applyOverrides(c: Config, o: ServeOptions): Config {
  const icecastUrl = o.icecast ?? c.icecast.url;
  return Object.freeze({
    ...c,
    listen: Object.freeze(o.listen ?? c.listen),
    ffmpegPath: o.ffmpeg ?? c.ffmpegPath,
    icecast: Object.freeze({
      ...c.icecast,
      url: icecastUrl,
      // a public URL that only defaulted to the old push URL follows the new one
      publicUrl: c.icecast.publicUrl === c.icecast.url ? icecastUrl : c.icecast.publicUrl,
    }),
    log: Object.freeze({ level: (o.logLevel as Config['log']['level'] | undefined) ?? c.log.level }),
  });
}

/**
 * The start-up garbage (every module's parse, the config check's borrowed zod and yaml) collected
 * once the daemon listens: two full collections, ~10-30 ms. V8's memory reducer does the same only
 * when it judges the process idle, 10 s to a minute later or not before the first broadcast, and
 * until then an idle daemon held ~10 MB more (docs/performance.md, Idle). The gc() function is
 * taken from a context of its own and the flag turned off again: the daemon's code never sees it.
 */
function collectStartupGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  setFlagsFromString('--no-expose-gc');
  gc();
  gc();
}

async function serve(opts: ServeOptions): Promise<void> {
  const file = opts.config ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
  const config = loadOrExit(file, opts);
  const logger = createLogger({ level: config.log.level });
  if (file === undefined) {
    logger.info('no config file: passthrough mode (broadcasters use the Icecast mount\'s own source password)', { icecast: config.icecast.url });
  }
  const daemon = createDaemon(config, logger);
  try {
    await daemon.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EADDRINUSE' ? 'the address is in use (another icewire?); pick another with --listen or listen.port'
      : e.code === 'EACCES' ? 'permission denied; use a port above 1023 and put nginx in front'
      : e.message;
    logger.error(`cannot listen on ${config.listen.host}:${config.listen.port}: ${why}`);
    throw new ExitError(1, '');
  }
  setImmediate(collectStartupGarbage);
  await new Promise<void>((resolve) => {
    let signalled = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (signalled) {
        logger.warn('second signal: exiting now', { signal: sig });
        process.exit(1);
      }
      signalled = true;
      logger.info('signal received', { signal: sig });
      const hard = setTimeout(() => {
        logger.error('shutdown took too long; exiting', { ms: HARD_STOP_MS });
        process.exit(1);
      }, HARD_STOP_MS);
      hard.unref();
      daemon.stop().then(() => { clearTimeout(hard); resolve(); }, (err: unknown) => {
        logger.error('error while stopping', { err });
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', () => {
      if (file === undefined) {
        logger.warn('SIGHUP: there is no config file to reload (running on defaults)');
        return;
      }
      try {
        daemon.reload(applyOverrides(loadConfigFile(file), opts));
      } catch (err) {
        // a broken edit must not take a running station down: keep the config it has
        const why = err instanceof ConfigError ? formatConfigError(err, file) : (err as Error).message;
        logger.error(`config not reloaded, still running on the previous one: ${why}`);
      }
    });
  });
}

async function checkConfig(file: string): Promise<void> {
  let config: Config;
  try {
    config = loadConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigError) throw new ExitError(EX_CONFIG, formatConfigError(err, file));
    throw err;
  }
  const { stringify } = await import('yaml');
  process.stdout.write(stringify(redactedConfig(config)));
  process.stderr.write(`${file}: OK (auth mode ${config.auth.mode}, ${Object.keys(config.mounts).length} station mount(s), ${config.broadcasters.length} broadcaster(s))\n`);
}

async function readPasswordFromTty(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (s: string): void => {
      for (const ch of s) {
        if (ch === '\r' || ch === '\n') { done(); resolve(value); return; }
        if (ch === '\u0003') { done(); reject(new ExitError(130, '')); return; }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function hashPasswordCmd(): Promise<void> {
  let password: string;
  if (process.stdin.isTTY) {
    password = await readPasswordFromTty('Password: ');
    const again = await readPasswordFromTty('Again: ');
    if (again !== password) throw new ExitError(1, 'the two passwords differ; nothing was printed');
  } else {
    password = await readAllStdin();
  }
  if (password.length < 8) throw new ExitError(1, 'use a password of at least 8 characters');
  process.stdout.write(`${await hashPassword(password)}\n`);
}

async function doctor(opts: DoctorCliOptions): Promise<void> {
  const file = opts.config ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
  // loaded by this command only: the daemon never needs it
  const { doctorCommand } = await import('./doctor.js');
  const code = await doctorCommand({ file, write: (line) => process.stdout.write(`${line}\n`) });
  if (code !== 0) throw new ExitError(code, '');
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const program = buildCli({ serve, checkConfig, hashPassword: hashPasswordCmd, doctor }, version());
  try {
    await program.parseAsync(process.argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof ExitError) {
      if (err.message !== '') process.stderr.write(`icewire: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`icewire: unexpected error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    return 1;
  }
}

main().then((code) => {
  process.exitCode = code;
  // serve resolves only after a clean stop; nothing else should keep the loop alive
  if (code !== 0) process.exit(code);
}, (err: unknown) => {
  process.stderr.write(`icewire: ${String(err)}\n`);
  process.exit(1);
});
