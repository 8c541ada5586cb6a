// What every doctor check works with: the config, the (injectable) real-world operations, where
// to tell the operator to make a change, and how to report a result.
import type { Config } from '../config/schema.js';
import type { IcecastSource, IcecastSourceOptions } from '../icecast/icecast-source.js';

export type CheckStatus = 'ok' | 'FAIL' | 'warn';

export interface DoctorCheck {
  readonly status: CheckStatus;
  readonly what: string;
  /** The exact action to take (FAIL and warn). */
  readonly fix?: string;
}

export interface HttpAnswer {
  readonly status: number;
  /** The Server header (Icecast sends `Icecast 2.4.4`). */
  readonly server: string | null;
  readonly body: string;
}

export interface DoctorDeps {
  /** Run ffmpeg; resolve with stdout; reject with the spawn error (code ENOENT/EACCES) or a failed run. */
  runFfmpeg(path: string, args: readonly string[]): Promise<string>;
  httpGet(url: string, timeoutMs: number, headers?: Record<string, string>): Promise<HttpAnswer>;
  /** A source client for one mount (IcecastSource). */
  openSource(opts: Omit<IcecastSourceOptions, 'logger'>): Pick<IcecastSource, 'connect' | 'write' | 'end' | 'destroy'>;
  /** Create and remove a file in `dir`; reject with the fs error. */
  tryWrite(dir: string): Promise<void>;
}

export interface DoctorContext {
  readonly config: Config;
  readonly deps: DoctorDeps;
  /** For naming where the source password came from. */
  readonly env: NodeJS.ProcessEnv;
  /** `in FILE` for fixes that edit the config. */
  readonly inFile: string;
  add(status: CheckStatus, what: string, fix?: string): void;
}

export function errCode(err: unknown): string | number | undefined {
  return (err as { code?: string | number } | undefined)?.code;
}
