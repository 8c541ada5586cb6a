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
import { existsSync, statSync } from 'node:fs';
import { open, stat, unlink } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { ConfigError, DEFAULT_CONFIG_PATH, ENV_SOURCE_PASSWORD, defaultConfig, formatConfigError, loadConfigFile } from './config/load.js';
import type { Config, RenditionFormat, TitleCharset } from './config/schema.js';
import { IcewireError } from './errors.js';
import { IcecastSource, type IcecastSourceOptions } from './icecast/icecast-source.js';
import { createLogger } from './log.js';
import { contentTypeFor, isCopy } from './pipeline/ffmpeg-args.js';
import { queryFfmpeg, resolveFfmpegPath } from './pipeline/ffmpeg-process.js';

export const EX_CONFIG = 78;

export type CheckStatus = 'ok' | 'FAIL' | 'warn';

export interface DoctorCheck {
  readonly status: CheckStatus;
  readonly what: string;
  /** The exact action to take (FAIL and warn). */
  readonly fix?: string;
}

/** `ok    what` / `FAIL  what`, then `      fix: …` when there is one. */
export function formatCheck(c: DoctorCheck): string {
  const head = `${c.status.padEnd(4)}  ${c.what}`;
  return c.fix === undefined ? head : `${head}\n      fix: ${c.fix}`;
}

// ---------------------------------------------------------------------------------------------
// What the configured renditions need from ffmpeg (pure)

export type FfmpegComponentKind = 'encoder' | 'muxer' | 'demuxer';

export interface FfmpegNeed {
  readonly kind: FfmpegComponentKind;
  readonly name: string;
  /** The renditions that need it, e.g. `/live.mp3 (mp3)`. */
  readonly usedBy: readonly string[];
}

interface NeedSource { label: string; format: RenditionFormat; bitrate: number | undefined }

/** What one rendition's ffmpeg runs with (ffmpeg-args.ts, rendition-pipe.ts): empty for Ogg/Opus copies, which the daemon writes itself. */
function needsOf(format: RenditionFormat, bitrate: number | undefined): { kind: FfmpegComponentKind; name: string }[] {
  const plan = { mount: '', format, bitrate };
  switch (format) {
    case 'ogg-opus':
      // transcodes read the daemon's own Ogg/Opus stream
      return isCopy(plan) ? [] : [{ kind: 'encoder', name: 'libopus' }, { kind: 'muxer', name: 'ogg' }, { kind: 'demuxer', name: 'ogg' }];
    case 'ogg-vorbis':
      return [{ kind: 'encoder', name: 'libvorbis' }, { kind: 'muxer', name: 'ogg' }, { kind: 'demuxer', name: 'ogg' }];
    case 'mp3':
      return [{ kind: 'encoder', name: 'libmp3lame' }, { kind: 'muxer', name: 'mp3' }, { kind: 'demuxer', name: 'ogg' }];
    case 'webm':
      // remuxes what the browser sent: WebM from Chromium/Firefox, Ogg from Firefox
      return [
        ...(isCopy(plan) ? [] : [{ kind: 'encoder' as const, name: 'libopus' }]),
        { kind: 'muxer', name: 'webm' }, { kind: 'demuxer', name: 'matroska' }, { kind: 'demuxer', name: 'ogg' },
      ];
  }
}

/**
 * Encoders, muxers and demuxers ffmpeg must have for the configured renditions. In passthrough
 * mode a broadcaster picks the format by the mount's extension, so every one a name can select.
 */
export function ffmpegNeeds(config: Pick<Config, 'auth' | 'mounts'>): FfmpegNeed[] {
  const sources: NeedSource[] = config.auth.mode === 'passthrough'
    ? [
      { label: 'passthrough .mp3 mounts', format: 'mp3', bitrate: undefined },
      { label: 'passthrough .webm mounts', format: 'webm', bitrate: undefined },
    ]
    : Object.values(config.mounts).flatMap((m) => m.renditions.map((r) => ({ label: `${r.mount} (${r.format}${r.bitrate !== undefined ? ` ${r.bitrate}k` : ''})`, format: r.format, bitrate: r.bitrate })));
  const byKey = new Map<string, { kind: FfmpegComponentKind; name: string; usedBy: string[] }>();
  for (const s of sources) {
    for (const n of needsOf(s.format, s.bitrate)) {
      const key = `${n.kind}:${n.name}`;
      const entry = byKey.get(key) ?? { ...n, usedBy: [] };
      if (!entry.usedBy.includes(s.label)) entry.usedBy.push(s.label);
      byKey.set(key, entry);
    }
  }
  const order: FfmpegComponentKind[] = ['encoder', 'muxer', 'demuxer'];
  return [...byKey.values()].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || a.name.localeCompare(b.name));
}

/**
 * Names listed by `ffmpeg -encoders`, `-muxers` or `-demuxers`: the rows after the `---` rule,
 * each `FLAGS name[,alias…] description`.
 */
export function parseFfmpegList(text: string): Set<string> {
  const names = new Set<string>();
  let inTable = false;
  for (const line of text.split(/\r?\n/)) {
    if (!inTable) {
      if (/^\s*-+\s*$/.test(line)) inTable = true;
      continue;
    }
    const m = /^\s*(\S+)\s+(\S+)/.exec(line);
    if (m === null) continue;
    for (const n of m[2]!.split(',')) names.add(n);
  }
  return names;
}

// ---------------------------------------------------------------------------------------------
// Dependencies (real by default; tests may replace them)

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

/** The unit's StateDirectory=icewire: the one writable place under ProtectSystem=strict. */
const STATE_DIR = '/var/lib/icewire';
const MOUNT_GONE_TIMEOUT_MS = 3000;
/** How long the title probe waits for Icecast to show its title. */
const TITLE_PROBE_MS = 3000;
/**
 * The probe title: a Latin-1 letter and a character Latin-1 lacks. An ISO-8859-1 mount shows the
 * second as `&#8212;` in status-json; a UTF-8 mount keeps both (docs/notes/icecast.md, "Titles").
 */
const TITLE_PROBE = 'icewire doctor é — ok';
/**
 * One MPEG-1 Layer III frame of silence (128 kbit/s, 44.1 kHz, mono; all side info zero).
 * Icecast applies a new MP3 title only when source data follows it.
 */
const SILENT_MP3_FRAME = (() => {
  const f = Buffer.alloc(417);
  f.set([0xff, 0xfb, 0x90, 0xc4]);
  return f;
})();


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

// ---------------------------------------------------------------------------------------------
// The checks

export interface DoctorOptions {
  /** The config file the config came from (named in fixes); undefined = built-in defaults. */
  readonly configFile?: string | undefined;
  /** For naming where the source password came from; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  readonly deps?: Partial<DoctorDeps>;
  /** Called with each check as soon as it is done (the CLI prints it). */
  readonly onCheck?: (c: DoctorCheck) => void;
}

function errCode(err: unknown): string | number | undefined {
  return (err as { code?: string | number } | undefined)?.code;
}

function isLocalHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\./.test(h);
}

/** `ffmpeg` -> its path on PATH (for display); a path stays as it is. */
function whichFfmpeg(cmd: string): string | undefined {
  if (cmd.includes('/')) return cmd;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const p = join(dir, cmd);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not in this PATH entry
    }
  }
  return undefined;
}

function describeFsError(err: unknown): string {
  switch (errCode(err)) {
    case 'ENOENT': return 'does not exist';
    case 'EACCES':
    case 'EPERM': return `is not writable by user ${userInfo().username}`;
    case 'EROFS': return 'is on a read-only file system';
    case 'ENOTDIR': return 'is not a directory';
    default: return `cannot be written (${String(errCode(err) ?? (err as Error).message)})`;
  }
}

class Doctor {
  readonly checks: DoctorCheck[] = [];
  private readonly deps: DoctorDeps;
  private readonly env: NodeJS.ProcessEnv;
  /** `in FILE` for fixes that edit the config. */
  private readonly inFile: string;

  constructor(private readonly config: Config, private readonly opts: DoctorOptions) {
    this.deps = { ...defaultDeps(), ...opts.deps };
    this.env = opts.env ?? process.env;
    this.inFile = opts.configFile !== undefined ? `in ${opts.configFile}` : `in ${DEFAULT_CONFIG_PATH} (start from config.sample.yaml)`;
  }

  private add(status: CheckStatus, what: string, fix?: string): void {
    const c: DoctorCheck = fix === undefined ? { status, what } : { status, what, fix };
    this.checks.push(c);
    this.opts.onCheck?.(c);
  }

  async run(): Promise<DoctorCheck[]> {
    await this.ffmpeg();
    const reachable = await this.icecastReachable();
    await this.sourceLogins(reachable);
    await this.recordings();
    this.publicUrls();
    return this.checks;
  }

  // ffmpeg: found, its version, then what the renditions need
  private async ffmpeg(): Promise<void> {
    const configured = this.config.ffmpegPath;
    const cmd = resolveFfmpegPath(configured);
    const needs = ffmpegNeeds(this.config);
    const where = configured !== undefined ? `ffmpegPath ${configured}` : cmd === 'ffmpeg' ? 'ffmpeg on PATH' : `ffmpeg-static ${cmd}`;
    let versionOut: string;
    try {
      versionOut = await this.deps.runFfmpeg(cmd, ['-version']);
    } catch (err) {
      const code = errCode(err);
      const why = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'not executable' : `does not run (${String(code ?? (err as Error).message)})`;
      const fix = configured !== undefined
        ? `install ffmpeg (apt-get install ffmpeg) and set ffmpegPath: /usr/bin/ffmpeg ${this.inFile}, or remove ffmpegPath to use ffmpeg on PATH`
        : 'install ffmpeg: apt-get install ffmpeg';
      if (needs.length === 0) {
        // Ogg/Opus copies are written by the daemon itself; only transcodes and WebM run ffmpeg.
        this.add('warn', `${where}: ${why} (the configured renditions do not use it)`, fix);
      } else {
        this.add('FAIL', `${where}: ${why}`, fix);
      }
      return;
    }
    const version = /ffmpeg version (\S+)/.exec(versionOut)?.[1] ?? 'unknown version';
    this.add('ok', `ffmpeg ${version} (${whichFfmpeg(cmd) ?? cmd})`);
    if (needs.length === 0) {
      this.add('ok', 'ffmpeg components: none needed (Ogg/Opus copies are written by icewire itself)');
      return;
    }

    const lists = new Map<FfmpegComponentKind, Set<string> | Error>();
    const kinds = (['encoder', 'muxer', 'demuxer'] as const).filter((k) => needs.some((n) => n.kind === k));
    await Promise.all(kinds.map(async (kind) => {
      try {
        lists.set(kind, parseFfmpegList(await this.deps.runFfmpeg(cmd, ['-hide_banner', `-${kind}s`])));
      } catch (err) {
        lists.set(kind, err instanceof Error ? err : new Error(String(err)));
      }
    }));
    for (const [kind, list] of lists) {
      if (list instanceof Error) {
        this.add('FAIL', `\`ffmpeg -${kind}s\` failed (${list.message.split('\n')[0]}), so the ${kind}s the renditions need are unknown`,
          `check that ${whichFfmpeg(cmd) ?? cmd} is a working ffmpeg (apt-get install ffmpeg)`);
      }
    }
    const have: string[] = [];
    for (const n of needs) {
      const list = lists.get(n.kind);
      if (list instanceof Error) continue; // said above
      if (list !== undefined && list.has(n.name)) {
        have.push(`${n.kind} ${n.name}`);
        continue;
      }
      const fix = configured !== undefined
        ? `point ffmpegPath ${this.inFile} at an ffmpeg that has it (Debian's: apt-get install ffmpeg; ffmpegPath: /usr/bin/ffmpeg), or remove those renditions`
        : `install an ffmpeg that has it (Debian's: apt-get install ffmpeg), or remove those renditions ${this.inFile}`;
      this.add('FAIL', `ffmpeg has no ${n.name} ${n.kind}, needed by ${n.usedBy.join(', ')}`, fix);
    }
    if (have.length > 0) this.add('ok', `ffmpeg components the renditions need: ${have.join(', ')}`);
  }

  // Icecast answers HTTP at icecast.url
  private async icecastReachable(): Promise<boolean> {
    const { url, connectTimeoutMs } = this.config.icecast;
    let ans: HttpAnswer;
    try {
      ans = await this.deps.httpGet(`${url}/status-json.xsl`, connectTimeoutMs);
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      const code = errCode(cause) ?? errCode(err);
      const name = (err as Error).name;
      const why = name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${connectTimeoutMs} ms` : String(code ?? (err as Error).message);
      this.add('FAIL', `Icecast at ${url}: unreachable (${why})`,
        `start Icecast (systemctl start icecast2; its log: /var/log/icecast2/error.log), or set icecast.url ${this.inFile} to where it listens`);
      return false;
    }
    if (ans.server === null || !/icecast/i.test(ans.server)) {
      this.add('warn', `Icecast at ${url}: something answers (HTTP ${ans.status}${ans.server !== null ? `, Server: ${ans.server}` : ''}) but it does not say it is Icecast`,
        `set icecast.url ${this.inFile} to Icecast itself (Debian's icecast2: http://127.0.0.1:8000), not a proxy in front of it`);
      return true;
    }
    this.add('ok', `Icecast at ${url} (${ans.server})`);
    return true;
  }

  /** Every Icecast mount the config streams to, with its content type. */
  private icecastMounts(): { mount: string; contentType: string; format: RenditionFormat; charset: TitleCharset | undefined }[] {
    return Object.values(this.config.mounts).flatMap((m) => m.renditions.map((r) => ({
      mount: r.mount, contentType: contentTypeFor(r.format, undefined), format: r.format, charset: r.charset,
    })));
  }

  // A real source login on each mount, closed at once
  private async sourceLogins(reachable: boolean): Promise<void> {
    const ic = this.config.icecast;
    if (this.config.auth.mode === 'passthrough' || ic.sourcePassword === undefined) {
      this.add('ok', 'Icecast source password: skipped (passthrough mode: broadcasters type their mount\'s own source password)');
      return;
    }
    const where = this.env[ENV_SOURCE_PASSWORD] !== undefined && this.env[ENV_SOURCE_PASSWORD] !== ''
      ? `the ${ENV_SOURCE_PASSWORD} environment variable (it overrides the config)`
      : `icecast.sourcePasswordFile (or icecast.sourcePassword) ${this.inFile}`;
    for (const { mount, contentType, format, charset } of this.icecastMounts()) {
      const what = `Icecast source login ${ic.sourceUser}@${mount}`;
      if (!reachable) {
        this.add('warn', `${what}: not checked (Icecast is unreachable)`, 'fix the Icecast check above, then run icewire doctor again');
        continue;
      }
      const src = this.deps.openSource({
        url: ic.url, mount, user: ic.sourceUser, password: ic.sourcePassword, contentType,
        ice: { name: 'icewire doctor', public: false }, legacySource: ic.legacySource, connectTimeoutMs: ic.connectTimeoutMs,
      });
      try {
        await src.connect();
      } catch (err) {
        src.destroy();
        this.sourceRefused(what, mount, err, where);
        continue;
      }
      // MP3 titles depend on the mount's charset in icecast.xml: measure it while connected
      const measured = format === 'mp3' ? await this.probeTitleCharset(src, mount) : undefined;
      await src.end();
      const gone = await this.waitMountGone(mount);
      this.add('ok', `${what}: accepted${gone ? '' : ' (Icecast still lists the mount a moment after the test connection closed)'}`);
      if (format === 'mp3') this.titleCharsetCheck(mount, measured, charset);
    }
  }

  /**
   * Set a probe title on a mount this doctor is the source of, send a little silence so Icecast
   * applies it, and read it back from status-json: the title shows which charset Icecast keeps
   * the mount's titles in. undefined when Icecast showed no title in time.
   */
  private async probeTitleCharset(src: Pick<IcecastSource, 'write'>, mount: string): Promise<TitleCharset | undefined> {
    const ic = this.config.icecast;
    const u = new URL('/admin/metadata', ic.url);
    u.searchParams.set('mount', mount);
    u.searchParams.set('mode', 'updinfo');
    u.searchParams.set('song', TITLE_PROBE);
    u.searchParams.set('charset', 'UTF-8');
    const auth = `Basic ${Buffer.from(`${ic.sourceUser}:${ic.sourcePassword ?? ''}`, 'utf8').toString('base64')}`;
    try {
      const ans = await this.deps.httpGet(u.toString(), ic.connectTimeoutMs, { Authorization: auth });
      if (ans.status !== 200 || !/Metadata update successful/i.test(ans.body)) return undefined;
      const deadline = Date.now() + TITLE_PROBE_MS;
      while (Date.now() < deadline) {
        src.write(SILENT_MP3_FRAME);
        const title = titleInStatus((await this.deps.httpGet(`${ic.url}/status-json.xsl`, ic.connectTimeoutMs)).body, mount);
        if (title === TITLE_PROBE) return 'UTF-8';
        if (title !== undefined && title.startsWith('icewire doctor')) return 'ISO-8859-1';
        await new Promise((r) => setTimeout(r, 50));
      }
    } catch {
      // unknown: said by the check
    }
    return undefined;
  }

  private titleCharsetCheck(mount: string, measured: TitleCharset | undefined, configured: TitleCharset | undefined): void {
    const what = `Icecast mount ${mount} titles`;
    const icecastFix = `give ${mount} <charset>UTF-8</charset> in /etc/icecast2/icecast.xml (a <mount> block: docs/deploy.md, step 4), systemctl restart icecast2`;
    const setting = configured ?? 'ISO-8859-1';
    if (measured === undefined) {
      this.add('warn', `${what}: charset not measured (Icecast showed no probe title within ${TITLE_PROBE_MS / 1000} s)`,
        `if titles with accents or other scripts look wrong, ${icecastFix}, and set charset: UTF-8 on the rendition ${this.inFile}`);
    } else if (measured === 'UTF-8' && setting === 'UTF-8') {
      this.add('ok', `${what}: UTF-8 (any script reaches listeners intact)`);
    } else if (measured === 'UTF-8') {
      this.add('warn', `${what}: Icecast keeps them in UTF-8, but icewire is set to ISO-8859-1 and spells titles in Latin-1 (— becomes -, Привет becomes Privet, emoji are left out)`,
        `set charset: UTF-8 on the rendition ${mount} ${this.inFile}`);
    } else if (setting === 'UTF-8') {
      this.add('FAIL', `${what}: Icecast keeps them in ISO-8859-1, but icewire is set to UTF-8: characters Latin-1 lacks reach listeners as codes like &#8212;`,
        `${icecastFix}; or remove charset: UTF-8 from the rendition ${mount} ${this.inFile}`);
    } else {
      this.add('warn', `${what}: ISO-8859-1 (Icecast's default): accents Latin-1 has stay, icewire spells the rest in Latin letters (— becomes -, Привет becomes Privet, emoji are left out)`,
        `for titles in any script: ${icecastFix}, then set charset: UTF-8 on the rendition ${mount} ${this.inFile}`);
    }
  }

  private sourceRefused(what: string, mount: string, err: unknown, where: string): void {
    const code = err instanceof IcewireError ? err.code : undefined;
    const detail = err instanceof IcewireError ? err.detail ?? err.message : String(err);
    switch (code) {
      case 'IW_ERR_ICECAST_MOUNT_IN_USE':
        // Icecast checks the password before the mount (a wrong one gets 401 even on a busy mount),
        // so the login itself was accepted.
        this.add('ok', `${what}: in use (someone is live); the password was accepted`);
        return;
      case 'IW_ERR_ICECAST_AUTH':
        this.add('FAIL', `${what}: Icecast refused the user or password (401)`,
          `make ${where} hold Icecast's <source-password> from /etc/icecast2/icecast.xml (or the <password> of a <mount> block for ${mount}), and keep icecast.sourceUser: ${this.config.icecast.sourceUser === 'source' ? 'source' : 'source (Icecast 2.4 accepts no other user)'}`);
        return;
      case 'IW_ERR_ICECAST_LIMIT':
        this.add('FAIL', `${what}: Icecast has too many sources connected`,
          'raise <sources> under <limits> in /etc/icecast2/icecast.xml (at least the number of renditions, plus headroom), then systemctl restart icecast2');
        return;
      case 'IW_ERR_ICECAST_UNREACHABLE':
        this.add('FAIL', `${what}: could not connect (${detail})`,
          `check that Icecast runs and icecast.url ${this.inFile} is where it listens`);
        return;
      default:
        this.add('FAIL', `${what}: refused (${detail})`,
          `see why in Icecast's error log (/var/log/icecast2/error.log) and the <mount> settings for ${mount} in /etc/icecast2/icecast.xml`);
    }
  }

  /** After a test login: wait (bounded) until Icecast no longer lists the mount. */
  private async waitMountGone(mount: string): Promise<boolean> {
    const ic = this.config.icecast;
    const deadline = Date.now() + MOUNT_GONE_TIMEOUT_MS;
    for (;;) {
      try {
        if (ic.adminUser !== undefined && ic.adminPassword !== undefined) {
          const auth = `Basic ${Buffer.from(`${ic.adminUser}:${ic.adminPassword}`, 'utf8').toString('base64')}`;
          const ans = await this.deps.httpGet(`${ic.url}/admin/listmounts`, ic.connectTimeoutMs, { Authorization: auth });
          if (ans.status === 200 && !ans.body.includes(`mount="${mount}"`)) return true;
          if (ans.status !== 200) return await this.waitMountGoneByStatus(mount, deadline);
        } else {
          return await this.waitMountGoneByStatus(mount, deadline);
        }
      } catch {
        return false;
      }
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async waitMountGoneByStatus(mount: string, deadline: number): Promise<boolean> {
    const ic = this.config.icecast;
    for (;;) {
      // status-json.xsl lists each source's listenurl (…/live.ogg"); with no sources 2.4.4 may
      // answer invalid JSON, so read it as text.
      const ans = await this.deps.httpGet(`${ic.url}/status-json.xsl`, ic.connectTimeoutMs);
      if (!ans.body.includes(`${mount}"`)) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  // The recordings directory, when the config has one and a station mount records. The
  // recorder creates it (mkdir -p) with the first show, so a missing one is fine as long as it
  // can be created there.
  private async recordings(): Promise<void> {
    if (!('recordings' in this.config)) return;
    const dir = (this.config as unknown as { recordings?: { dir?: unknown } }).recordings?.dir;
    if (typeof dir !== 'string') return;
    const recording = Object.entries(this.config.mounts).filter(([, m]) => (m as { record?: unknown }).record === true).map(([id]) => id);
    if (recording.length === 0) {
      this.add('ok', `recordings: no station mount has record: true (${dir} is not used)`);
      return;
    }
    const user = userInfo().username;
    let target = dir;
    for (;;) {
      try {
        await this.deps.tryWrite(target);
        break;
      } catch (err) {
        const parent = dirname(target);
        if (errCode(err) === 'ENOENT' && parent !== target) {
          target = parent; // not there yet: can it be created?
          continue;
        }
        const code = errCode(err);
        if (dir.startsWith(`${STATE_DIR}/`) && target !== dir && !existsSync(STATE_DIR)) {
          // before the service's first start: StateDirectory= will make it, owned by icewire
          this.add('warn', `recordings directory ${dir} (for ${recording.join(', ')}): ${STATE_DIR} does not exist yet; systemd creates it (StateDirectory=icewire) when icewire.service starts`,
            'systemctl enable --now icewire, then run icewire doctor again');
          return;
        }
        const fix = code === 'EROFS'
          ? `under systemd only /var/lib/icewire is writable: keep recordings.dir there, or add ReadWritePaths=${dir} in a drop-in (systemctl edit icewire)`
          : code === 'ENOTDIR'
            ? `set recordings.dir ${this.inFile} to a directory (${target} is a file)`
            : `chown icewire:icewire ${target} (the service's user; run doctor as that user: runuser -u icewire -- icewire doctor)`;
        this.add('FAIL', target === dir
          ? `recordings directory ${dir} (for ${recording.join(', ')}) ${describeFsError(err)}`
          : `recordings directory ${dir} (for ${recording.join(', ')}) does not exist and cannot be created: ${target} ${describeFsError(err)}`, fix);
        return;
      }
    }
    this.add('ok', target === dir
      ? `recordings directory ${dir} is writable by user ${user}`
      : `recordings directory ${dir} does not exist yet; user ${user} can create it in ${target}`);
    if (dir !== STATE_DIR && !dir.startsWith(`${STATE_DIR}/`)) {
      this.add('warn', `recordings directory ${dir} is outside ${STATE_DIR}, the only place systemd/icewire.service lets the daemon write`,
        `keep recordings.dir under ${STATE_DIR} ${this.inFile}, or add ReadWritePaths=${dir} in a drop-in (systemctl edit icewire)`);
    }
  }

  // Browsers allow the microphone only on https (or localhost) pages, and an https page can
  // only play an https stream.
  private publicUrls(): void {
    const p = this.config.publicUrl;
    if (p === undefined) {
      this.add('warn', 'publicUrl is not set',
        `set publicUrl: https://live.example.org ${this.inFile} (the address people open, served by nginx with TLS: docs/deploy.md)`);
    } else {
      const u = new URL(p);
      if (u.protocol === 'https:') this.add('ok', `publicUrl ${p} is https`);
      else if (isLocalHost(u.hostname)) this.add('ok', `publicUrl ${p} is http on this machine (browsers allow the microphone on localhost)`);
      else {
        this.add('warn', `publicUrl ${p} is http: browsers allow the microphone only on https:// pages`,
          `put nginx with TLS in front (nginx/icewire.conf, docs/deploy.md) and set publicUrl: https://${u.host} ${this.inFile}`);
      }
    }
    const ip = this.config.icecast.publicUrl;
    const iu = new URL(ip);
    if (iu.protocol === 'http:' && !isLocalHost(iu.hostname)) {
      this.add('warn', `icecast.publicUrl ${ip} is http: an https page cannot play it`,
        `serve Icecast over https (the optional block at the end of nginx/icewire.conf) and set icecast.publicUrl: https://${iu.host} ${this.inFile}`);
    }
  }
}

/** The title status-json shows for a mount (one source is an object, several an array). */
function titleInStatus(body: string, mount: string): string | undefined {
  let j: unknown;
  try {
    j = JSON.parse(body);
  } catch {
    return undefined; // 2.4.4 can answer invalid JSON; the next poll may be fine
  }
  const src = (j as { icestats?: { source?: unknown } }).icestats?.source;
  const list = (Array.isArray(src) ? src : src !== undefined ? [src] : []) as { listenurl?: unknown; title?: unknown }[];
  const s = list.find((x) => typeof x.listenurl === 'string' && new URL(x.listenurl).pathname === mount);
  return typeof s?.title === 'string' ? s.title : undefined;
}

/** Run every check on a loaded config. */
export async function runDoctor(config: Config, opts: DoctorOptions = {}): Promise<DoctorCheck[]> {
  return new Doctor(config, opts).run();
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
