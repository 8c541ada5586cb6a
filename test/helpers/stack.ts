// A real icecast2 plus the daemon in-process, configured like a station. Every test that needs
// Icecast uses this. Log lines and secrets are collected for the suite-wide secrets check. A stack
// started inside a test is stopped when the test ends (test/helpers/teardown.ts); one started in a
// suite's `before` is the suite's to stop.
import { Writable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import winston from 'winston';
import { parseConfig } from '../../server/config/load.js';
import type { Config, RenditionConfig } from '../../server/config/schema.js';
import { createDaemon, type Daemon } from '../../server/daemon.js';
import { startIcecast, type ManagedIcecast } from '../../server/icecast/managed-icecast.js';
import { hashPassword } from '../../server/auth/password-hash.js';
import { createLogger } from '../../server/log.js';
import { afterThisTest } from './teardown.js';

/** Every log line of every daemon (and icecast) the suite started, for the secrets test. */
export const ALL_LOG_LINES: string[] = [];
/** Every secret the suite used. */
export const ALL_SECRETS = new Set<string>();
/** `ps` argv snapshots taken while broadcasts were live. */
export const PS_SNAPSHOTS: string[] = [];

export interface StackOptions {
  renditions?: RenditionConfig[];
  mode?: 'accounts' | 'passthrough';
  /** Extra top-level config (merged over the generated one). */
  config?: Record<string, unknown>;
  limits?: Record<string, number>;
  /** Extra icecast: keys (merged into the generated ones). */
  icecastConfig?: Record<string, unknown>;
  /** Reuse an Icecast (e.g. a stopped one's port for "Icecast down"). */
  icecastUrl?: string;
  /** Start no icecast (the URL points nowhere). */
  noIcecast?: boolean;
  /** Record broadcasts on station mount "live" (accounts mode); set recordings.dir through `config`. */
  record?: boolean;
}

export interface Stack {
  readonly icecast: ManagedIcecast | undefined;
  readonly icecastUrl: string;
  readonly daemon: Daemon;
  readonly baseUrl: string;
  readonly wsBase: string;
  readonly config: Config;
  readonly logLines: string[];
  readonly broadcaster: { name: string; password: string };
  /** A second broadcaster allowed only on station mount "other". */
  readonly other: { name: string; password: string };
  stop(): Promise<void>;
}

export function secret(): string {
  const s = `S3cr3t-${randomBytes(9).toString('base64url')}`;
  ALL_SECRETS.add(s);
  return s;
}

/** Record every process's argv now (to prove no secret is in any). */
export function snapshotPs(): void {
  PS_SNAPSHOTS.push(execFileSync('ps', ['-eo', 'args', '--no-headers'], { encoding: 'utf8' }));
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const icecast = opts.noIcecast || opts.icecastUrl !== undefined ? undefined : await startIcecast({ sourcePassword: secret(), adminPassword: secret() });
  const icecastUrl = opts.icecastUrl ?? icecast?.url ?? 'http://127.0.0.1:9';
  const broadcaster = { name: 'alice', password: secret() };
  const other = { name: 'bob', password: secret() };
  const mode = opts.mode ?? 'accounts';
  const raw: Record<string, unknown> = {
    listen: { host: '127.0.0.1', port: 0 },
    icecast: {
      url: icecastUrl,
      statsIntervalMs: 1000,
      ...(mode === 'accounts' ? { sourcePassword: icecast?.sourcePassword ?? secret() } : {}),
      ...opts.icecastConfig,
    },
    auth: { mode },
    ...(mode === 'accounts' ? {
      broadcasters: [
        { name: broadcaster.name, passwordHash: await hashPassword(broadcaster.password), mounts: ['live'] },
        { name: other.name, passwordHash: await hashPassword(other.password), mounts: ['other'] },
      ],
      mounts: {
        live: {
          name: 'Test Radio', description: 'icewire test', genre: 'Test', renditions: opts.renditions ?? [{ mount: '/live.ogg', format: 'ogg-opus' }],
          ...(opts.record !== undefined ? { record: opts.record } : {}),
        },
        other: { renditions: [{ mount: '/other.ogg', format: 'ogg-opus' }] },
      },
    } : {}),
    ...(opts.limits !== undefined ? { limits: opts.limits } : {}),
    ...opts.config,
  };
  const config = parseConfig(raw, { env: {} });
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.length > 0) { logLines.push(line); ALL_LOG_LINES.push(line); }
      }
      cb();
    },
  });
  const logger = createLogger({
    level: process.env.ICEWIRE_TEST_LOG_LEVEL ?? 'debug',
    json: true,
    console: process.env.ICEWIRE_TEST_LOG === '1',
    transports: [new winston.transports.Stream({ stream: sink })],
  });
  const daemon = createDaemon(config, logger);
  const addr = await daemon.start();
  const baseUrl = `http://127.0.0.1:${addr.port}`;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await daemon.stop();
      logger.close();
      if (icecast !== undefined) {
        try {
          for (const f of readdirSync(join(icecast.dir, 'log'))) {
            ALL_LOG_LINES.push(...readFileSync(join(icecast.dir, 'log', f), 'utf8').split('\n'));
          }
        } catch { /* icecast wrote no logs */ }
        await icecast.stop();
      }
    })();
    return stopping;
  };
  afterThisTest(stop);
  return { icecast, icecastUrl, daemon, baseUrl, wsBase: `ws://127.0.0.1:${addr.port}/ws/`, config, logLines, broadcaster, other, stop };
}

/** Pids of ffmpeg processes that are children of this test process. */
export function childFfmpegPids(): number[] {
  let out: string;
  try {
    out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' }).trim();
  } catch {
    return []; // ps exits 1 when no process matches
  }
  return out.split('\n').filter((l) => /ffmpeg/.test(l)).map((l) => Number(l.trim().split(/\s+/)[0]));
}
