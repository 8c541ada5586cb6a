// Loading the config: YAML -> schema validation -> secrets (files, env) -> decisions the schema
// can't make alone (auth mode, defaults that depend on other keys) -> one deep-frozen Config.
//
// Every failure is a ConfigError listing *all* problems found, each with the dotted key path, so an
// operator fixes the file in one pass instead of one error per restart. No message ever contains a
// secret value: messages name keys and file paths, never what was read from them.
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type { Document, LineCounter } from 'yaml';
import { configSchemas, INSTANCE_NAME_RE, type Config, type RawConfig } from './schema.js';
import { registerSecret } from '../log.js';
import { issuesFromZod, joinPath, zodMessage, type ConfigIssue } from './issues.js';
import { fsReason, resolveSecret } from './secrets.js';

export type { ConfigIssue };

export class ConfigError extends Error {
  /** Same code as errors.ts's catalogue entry, so callers can treat it like any IcewireError code. */
  readonly code = 'IW_ERR_CONFIG_INVALID';
  readonly issues: ConfigIssue[];
  /** The config file, when the error came from one (formatConfigError uses it). */
  readonly file: string | undefined;

  constructor(issues: ConfigIssue[], file?: string) {
    const first = issues[0];
    const summary = first === undefined ? 'unknown problem' : `${first.path ? `${first.path}: ` : ''}${first.message}`;
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super(`invalid config${file ? ` ${file}` : ''}: ${summary}${more}`);
    this.name = 'ConfigError';
    this.issues = issues;
    this.file = file;
  }
}

export const DEFAULT_CONFIG_PATH = '/etc/icewire/icewire.yaml';
export const ENV_SOURCE_PASSWORD = 'ICEWIRE_ICECAST_SOURCE_PASSWORD';
export const ENV_ADMIN_PASSWORD = 'ICEWIRE_ICECAST_ADMIN_PASSWORD';
export const ENV_ADMIN_TOKEN = 'ICEWIRE_ADMIN_TOKEN';
/** Icecast's own default admin user, used when only an admin password is given. */
const DEFAULT_ADMIN_USER = 'admin';
const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

export interface ParseOptions {
  /** Environment for ICEWIRE_* overrides; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Directory that relative `*File` paths are resolved against; default the working directory. */
  baseDir?: string;
}

// ---------------------------------------------------------------------------------------------
// public API

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Pure: a host name as an instanceName (characters outside the allowed set become `-`). */
export function defaultInstanceName(host: string): string {
  const name = host.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return INSTANCE_NAME_RE.test(name) ? name : 'icewire';
}

// Renditions' listener URLs are `publicUrl + mount`; a trailing slash would make `//live.ogg`.
function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/**
 * A package lent for one synchronous call: loaded (its CommonJS build) for the call, then dropped
 * from require's cache, with the globals it set, so that once what the call made is garbage the
 * GC takes the package's code too. The daemon checks its config at start and on reload only;
 * keeping zod (with the schemas) and yaml loaded between those cost an idle daemon ~4 MB of heap
 * (docs/performance.md, Idle).
 */
function borrow<M, T>(pkg: 'zod' | 'yaml', use: (m: M) => T): T {
  const require = createRequire(import.meta.url);
  const cached = new Set(Object.keys(require.cache));
  const globals = new Set(Reflect.ownKeys(globalThis));
  try {
    return use(require(pkg) as M);
  } finally {
    for (const k of Object.keys(require.cache)) if (!cached.has(k)) delete require.cache[k];
    for (const k of Reflect.ownKeys(globalThis)) if (!globals.has(k)) delete (globalThis as Record<PropertyKey, unknown>)[k];
  }
}
type Yaml = typeof import('yaml');

/** Internal: like parseConfig, but also hands back zod paths so loadConfigFile can add line numbers. */
function parseWithPaths(raw: unknown, opts: ParseOptions): { config?: Config; issues: (ConfigIssue & { rawPath?: PropertyKey[] })[] } {
  const env = opts.env ?? process.env;
  const baseDir = opts.baseDir ?? process.cwd();

  const parsed = borrow('zod', ({ z }: typeof import('zod')) => {
    const { configSchema } = configSchemas(z);
    const r = configSchema.safeParse(raw, { error: zodMessage });
    return r.success ? { data: r.data } : { issues: issuesFromZod(r.error.issues, configSchema) };
  });
  if (parsed.data === undefined) {
    return { issues: parsed.issues.map((i) => ({ path: joinPath(i.path), message: i.message, rawPath: i.path })) };
  }
  // A copy: zod hands back `.default()` objects by reference, and they are about to be frozen.
  const c = structuredClone(parsed.data);
  const issues: (ConfigIssue & { rawPath?: PropertyKey[] })[] = [];

  const source = resolveSecret(c.icecast, { key: 'sourcePassword', envName: ENV_SOURCE_PASSWORD }, env, baseDir, issues);
  const admin = resolveSecret(c.icecast, { key: 'adminPassword', envName: ENV_ADMIN_PASSWORD }, env, baseDir, issues);
  const adminToken = resolveSecret(c.admin, { key: 'token', envName: ENV_ADMIN_TOKEN }, env, baseDir, issues, 'admin');
  if (adminToken.value !== undefined && adminToken.value.length < 16) {
    issues.push({ path: 'admin.token', message: 'the admin token must be at least 16 characters (e.g. openssl rand -base64 24)' });
  }

  // TURN secrets: read here, handed to pages only as short-lived credentials (guests/ice-servers.ts).
  const iceServers = c.webrtc.iceServers.map((server, i) => ({
    urls: server.urls,
    secret: resolveSecret(server, { key: 'secret' }, env, baseDir, issues, `webrtc.iceServers.${i}`).value,
  }));
  const mode = c.auth.mode ?? (c.broadcasters.length > 0 ? 'accounts' : 'passthrough');
  if (mode === 'accounts' && source.value === undefined && !source.failed) {
    issues.push({
      path: 'icecast.sourcePassword',
      message: `accounts mode needs the Icecast source password: set icecast.sourcePasswordFile (or icecast.sourcePassword, or the ${ENV_SOURCE_PASSWORD} environment variable)`,
    });
  }
  if (c.icecast.adminUser !== undefined && admin.value === undefined && !admin.failed) {
    issues.push({
      path: 'icecast.adminPassword',
      message: `icecast.adminUser is set but there is no admin password: set icecast.adminPasswordFile (or icecast.adminPassword, or ${ENV_ADMIN_PASSWORD}), or remove adminUser`,
    });
  }
  for (const i of issues) i.rawPath = i.path.split('.');
  if (issues.length > 0) return { issues };

  for (const s of [source.value, admin.value, adminToken.value, ...c.broadcasters.map((b) => b.passwordHash), ...iceServers.map((i) => i.secret)]) registerSecret(s);

  const icecastUrl = trimSlash(c.icecast.url);
  // Spread, then override: keys added to the schema later flow through without touching this
  // file, while the *File keys (paths, not values) are dropped from the resolved config.
  const { sourcePasswordFile: _sf, adminPasswordFile: _af, ...icecast } = c.icecast;
  const config: Config = {
    ...c,
    instanceName: c.instanceName ?? defaultInstanceName(hostname()),
    publicUrl: c.publicUrl === undefined ? undefined : trimSlash(c.publicUrl),
    sourceListen: c.sourceListen,
    ffmpegPath: c.ffmpegPath,
    icecast: {
      ...icecast,
      url: icecastUrl,
      publicUrl: c.icecast.publicUrl === undefined ? icecastUrl : trimSlash(c.icecast.publicUrl),
      sourcePassword: source.value,
      adminUser: admin.value === undefined ? undefined : (c.icecast.adminUser ?? DEFAULT_ADMIN_USER),
      adminPassword: admin.value,
    },
    auth: { ...c.auth, mode },
    admin: { token: adminToken.value },
    webrtc: { ...c.webrtc, iceServers },
  };
  return { config: deepFreeze(config), issues: [] };
}

/**
 * Validate an already-parsed config object (e.g. from YAML) and resolve it: read `*File` secrets
 * relative to `baseDir`, apply ICEWIRE_* env overrides, decide the auth mode, register secrets for
 * log redaction. Throws ConfigError listing every problem.
 */
export function parseConfig(raw: unknown, opts: ParseOptions = {}): Config {
  const { config, issues } = parseWithPaths(raw, opts);
  if (config === undefined) throw new ConfigError(issues.map(({ rawPath: _omit, ...i }) => i));
  return config;
}

/** 1-based line/column of the key at `path` in the YAML document (or its nearest ancestor). */
function locate({ isMap, isScalar, isSeq }: Yaml, doc: Document, lines: LineCounter, path: readonly PropertyKey[]): { line: number; column: number } | undefined {
  for (let n = path.length; n > 0; n--) {
    const parentPath = path.slice(0, n - 1);
    const last = path[n - 1];
    const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
    let offset: number | undefined;
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(last));
      if (pair !== undefined && isScalar(pair.key)) offset = pair.key.range?.[0];
    } else if (isSeq(parent)) {
      const item = parent.items[Number(last)] as { range?: [number, number, number] } | undefined;
      offset = item?.range?.[0];
    }
    if (offset !== undefined) {
      const pos = lines.linePos(offset);
      return { line: pos.line, column: pos.col };
    }
  }
  return undefined;
}

/** Read and resolve a YAML config file. Relative `*File` paths are relative to the file's directory. */
export function loadConfigFile(path: string, env?: NodeJS.ProcessEnv): Config {
  const abs = resolvePath(path);
  let text: string;
  try {
    const fd = openSync(abs, 'r');
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      if (st.size > MAX_CONFIG_FILE_BYTES) {
        throw new ConfigError([{ path: '', message: `the file is larger than ${MAX_CONFIG_FILE_BYTES} bytes; is it the right file?` }], path);
      }
      const buf = Buffer.alloc(st.size);
      let len = 0;
      while (len < buf.length) {
        const n = readSync(fd, buf, len, buf.length - len, null);
        if (n === 0) break;
        len += n;
      }
      text = buf.subarray(0, len).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const hint = (err as NodeJS.ErrnoException).code === 'ENOENT'
      ? ' Create it (see config.sample.yaml), pass another file with --config, or run `icewire serve` without --config for passthrough mode.'
      : '';
    throw new ConfigError([{ path: '', message: `cannot read the config file ${abs}: ${fsReason(err)}.${hint}` }], path);
  }

  return borrow('yaml', (yaml: Yaml) => {
    const { LineCounter, parseDocument } = yaml;
    const lines = new LineCounter();
    // prettyErrors off: the pretty form quotes the offending source line, which may hold a password.
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      throw new ConfigError(doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return { path: '', message: `YAML syntax error at line ${pos.line}, column ${pos.col}: ${e.message}`, line: pos.line, column: pos.col };
      }), path);
    }
    let raw: unknown;
    try {
      raw = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      throw new ConfigError([{ path: '', message: `cannot read the YAML: ${err instanceof Error ? err.message : String(err)}` }], path);
    }
    // An empty file means "all defaults", the same as running without a file.
    if (raw === null || raw === undefined) raw = {};

    const { config, issues } = parseWithPaths(raw, { env, baseDir: dirname(abs) });
    if (config !== undefined) return config;
    throw new ConfigError(issues.map(({ rawPath, ...i }) => {
      const pos = rawPath && rawPath.length > 0 ? locate(yaml, doc, lines, rawPath) : undefined;
      return pos ? { ...i, line: pos.line, column: pos.column } : i;
    }), path);
  });
}

/**
 * The config `icewire serve` runs with when there is no config file: passthrough mode against a
 * local Icecast (Debian's icecast2 listens on 127.0.0.1:8000), env overrides still apply.
 */
export function defaultConfig(
  overrides: { icecastUrl?: string; listen?: { host: string; port: number } } = {}, env?: NodeJS.ProcessEnv,
): Config {
  const raw: Record<string, unknown> = {};
  if (overrides.icecastUrl !== undefined) raw.icecast = { url: overrides.icecastUrl };
  if (overrides.listen !== undefined) raw.listen = { host: overrides.listen.host, port: overrides.listen.port };
  return parseConfig(raw, { env });
}

const SECRET_KEY_RE = /password|secret|token/i;

/**
 * A plain, JSON-safe copy for `icewire check-config`, with every secret replaced by "[redacted]".
 * Matching by key name (not a fixed list) means a secret key added later is redacted too.
 */
export function redactedConfig(config: Config): unknown {
  const copy = (v: unknown, key: string): unknown => {
    if (SECRET_KEY_RE.test(key) && v !== undefined && v !== null) return '[redacted]';
    if (Array.isArray(v)) return v.map((x) => copy(x, ''));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copy(x, k)]));
    }
    return v;
  };
  return copy(config, '');
}

/** One line per issue: `<file>: <path>: <message> (line N)`, ready for stderr. */
export function formatConfigError(err: ConfigError, file: string | undefined = err.file): string {
  return err.issues.map((i) => {
    const parts = [file, i.path].filter((p): p is string => p !== undefined && p !== '');
    // syntax errors already say where; key errors get the line so the operator can jump to it
    const where = i.line !== undefined && i.path !== '' ? ` (line ${i.line})` : '';
    return `${parts.map((p) => `${p}: `).join('')}${i.message}${where}`;
  }).join('\n');
}
