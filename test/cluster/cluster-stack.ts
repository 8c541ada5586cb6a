// The topology of docs/scaling.md on one machine, every part real: two icewire daemon processes
// behind nginx (nginx/icewire-cluster.conf with test ports and a self-signed certificate), an
// Icecast master with fallback mounts fed by icecast/fallback.liq (Liquidsoap), and an Icecast
// relay pulling the master's mounts for listeners. Everything started here is stopped and reaped
// by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { IcecastMountSettings, ManagedIcecast } from '../../server/icecast/managed-icecast.js';
import { freePort, startIcecast } from '../../server/icecast/managed-icecast.js';
import { hashPassword } from '../../server/auth/password-hash.js';
import { PACKAGE_ROOT } from '../../server/paths.js';
import { spawnDaemon, type DaemonProcess as Daemon } from '../helpers/daemon-process.js';
import { listMounts, waitFor } from '../helpers/listener.js';
import { ALL_LOG_LINES, secret } from '../helpers/stack.js';
import { docCommand, substitute } from '../ops/deploy-doc.js';
import { NginxDir, assertNginxTestOk } from '../ops/nginx-dir.js';

const run = promisify(execFile);
const MAIN = join(PACKAGE_ROOT, 'dist', 'server', 'main.js');
export const LIVE = 'localhost';
export const RADIO = 'radio.localhost';
/** The fallback loop's tone (docs/scaling.md's chime); the fake microphone beeps at 400 Hz. */
export const CHIME_HZ = 880;

export interface ClusterDaemon {
  readonly name: 'a' | 'b';
  readonly port: number;
  readonly metricsPort: number;
  readonly process: Daemon;
}

export interface Answer { status: number; body: string; json: () => unknown }

export interface ClusterOptions {
  /** Station mounts streamed by webcast clients (one Ogg/Opus rendition each). */
  readonly shows: readonly string[];
  /** Station mounts a browser may take (Ogg/Opus + MP3): the ones on daemon a get fallbacks. */
  readonly candidates: readonly string[];
  /** How many candidates held by daemon a to prepare for browsers. */
  readonly browserStations: number;
}

export class Cluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'icewire-cluster-'));
  readonly recordings = join(this.dir, 'recordings');
  readonly nginx = new NginxDir();
  readonly sourcePassword = secret();
  readonly icecastAdminPassword = secret();
  readonly adminToken = secret();
  readonly alice = { name: 'alice', password: secret() };
  daemons: ClusterDaemon[] = [];
  master: ManagedIcecast | undefined;
  relay: ManagedIcecast | undefined;
  liquidsoap: ChildProcess | undefined;
  private liquidsoapExit: Promise<void> | undefined;
  readonly liquidsoapLog: string[] = [];
  httpsPort = 0;
  httpPort = 0;
  masterPort = 0;
  relayPort = 0;
  ca = '';
  /** The fallback files made with docs/scaling.md's commands. */
  readonly fallbackFiles: string[] = [];
  /** Candidate stations nginx sends to daemon a, prepared with fallbacks and relayed. */
  browserStations: string[] = [];

  constructor(readonly opts: ClusterOptions) {}

  get masterUrl(): string { return `http://127.0.0.1:${this.masterPort}`; }
  get relayUrl(): string { return this.relay!.url; }
  get base(): string { return `https://${LIVE}:${this.httpsPort}`; }
  daemon(name: 'a' | 'b'): ClusterDaemon { return this.daemons.find((d) => d.name === name)!; }

  async start(): Promise<void> {
    this.httpsPort = await freePort();
    this.httpPort = await freePort();
    this.masterPort = await freePort();
    this.relayPort = await freePort();
    const passwordHash = await hashPassword(this.alice.password);
    // Daemons first (they wait for Icecast by themselves), then nginx, then ask nginx where the
    // browser stations live, then the Icecast side with fallbacks for exactly those.
    this.daemons = await Promise.all((['a', 'b'] as const).map(async (name) => this.startDaemon(name, passwordHash)));
    await this.startNginx();
    const onA = await this.stationsOn('a', this.opts.candidates);
    if (onA.length < this.opts.browserStations) throw new Error(`only ${onA.length} of ${this.opts.candidates.length} candidate stations hash to daemon a`);
    this.browserStations = onA.slice(0, this.opts.browserStations);
    await this.startIcecastSide();
  }

  private async startDaemon(name: 'a' | 'b', passwordHash: string): Promise<ClusterDaemon> {
    const port = await freePort();
    const metricsPort = await freePort();
    const mounts: Record<string, unknown> = {};
    for (const s of this.opts.shows) mounts[s] = { renditions: [{ mount: `/${s}.ogg`, format: 'ogg-opus' }], record: true };
    for (const s of this.opts.candidates) {
      mounts[s] = { renditions: [{ mount: `/${s}.ogg`, format: 'ogg-opus' }, { mount: `/${s}.mp3`, format: 'mp3', bitrate: 128 }], record: true };
    }
    // docs/scaling.md's per-daemon settings: its own name and metrics address; everything else
    // the same on every daemon, recordings on the shared directory.
    const config = {
      instanceName: name,
      listen: { host: '127.0.0.1', port },
      publicUrl: `https://${LIVE}:${this.httpsPort}`,
      trustProxy: true,
      icecast: {
        url: `http://127.0.0.1:${this.masterPort}`, publicUrl: `https://${RADIO}:${this.httpsPort}`, statsIntervalMs: 1000,
        sourcePassword: this.sourcePassword, adminUser: 'admin', adminPassword: this.icecastAdminPassword,
      },
      broadcasters: [{ name: this.alice.name, passwordHash, mounts: Object.keys(mounts) }],
      mounts,
      recordings: { dir: this.recordings, keepDays: 1 },
      admin: { token: this.adminToken },
      metrics: { listen: { host: '127.0.0.1', port: metricsPort } },
      limits: { maxBroadcasts: 50, reconnectGraceMs: 8000, maxConnectionsPerAddress: 100 },
    };
    return { name, port, metricsPort, process: await spawnDaemon({ config }) };
  }

  private async startNginx(): Promise<void> {
    const n = this.nginx;
    await n.makeCertificate([LIVE, RADIO]);
    this.ca = readFileSync(n.cert, 'utf8');
    const shipped = readFileSync(join(PACKAGE_ROOT, 'nginx', 'icewire-cluster.conf'), 'utf8');
    let site = n.withCert(shipped)
      .replace(/live\.example\.org/g, LIVE).replace(/radio\.example\.org/g, RADIO)
      .replace(/^ {4}listen 80;$/gm, `    listen 127.0.0.1:${this.httpPort};`)
      .replace(/^ {4}listen 443 ssl http2;$/gm, `    listen 127.0.0.1:${this.httpsPort} ssl http2;`)
      .replace(/^ {4}listen \[::\]:(80|443)( ssl http2)?;\n/gm, '')
      .replace(/root \/var\/www\/html;/, `root ${n.webroot};`)
      .replace('/var/log/nginx/icewire-cluster.log', join(n.dir, 'cluster.log'))
      // every show here comes from one address: more WebSocket attempts a minute than one person's
      .replace(/zone=icewire_ws:10m rate=30r\/m;/, 'zone=icewire_ws:10m rate=600r/m;');
    if (!site.includes('rate=600r/m')) throw new Error('the WebSocket rate limit of icewire-cluster.conf moved: update the test');
    // The upstreams: the two daemons, and the one relay (the second relay line goes).
    site = site.replace(/server 10\.0\.0\.11:8080 /, `server 127.0.0.1:${this.daemon('a').port} `)
      .replace(/server 10\.0\.0\.12:8080 /, `server 127.0.0.1:${this.daemon('b').port} `)
      .replace(/^ {4}server 10\.0\.0\.22:8000 .*\n/m, '')
      .replace(/server 10\.0\.0\.21:8000 /, 'server 127.0.0.1:RELAY_PORT ');
    const directives = site.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
    if (/10\.0\.0\.|example\.org|letsencrypt|\/var\/|listen (80|443)/.test(directives)) throw new Error('a system address or path is left in the test copy of icewire-cluster.conf');
    writeFileSync(n.site, site.replace('RELAY_PORT', String(this.relayPort)));
    assertNginxTestOk(await n.test(), n.conf);
    await n.start([this.httpsPort, this.httpPort]);
  }

  /** Which candidate stations nginx sends to daemon `name`: asks /api/status/<station> through nginx and reads its access log. */
  async stationsOn(name: 'a' | 'b', stations: readonly string[]): Promise<string[]> {
    for (const s of stations) {
      const r = await this.https('GET', `/api/status/${s}`);
      if (r.status !== 200) throw new Error(`GET /api/status/${s} through nginx: ${r.status} ${r.body}`);
    }
    const port = this.daemon(name).port;
    return stations.filter((s) => this.upstreamsFor(`GET /api/status/${s} `).every((u) => u === `127.0.0.1:${port}`));
  }

  /** The upstream of every access-log line whose request starts with `requestPrefix` ("GET /ws/s01 "). */
  upstreamsFor(requestPrefix: string): string[] {
    const lines = readFileSync(join(this.nginx.dir, 'cluster.log'), 'utf8').split('\n');
    // $upstream_addr is a list ("a, b") when the first daemon tried failed
    return lines.filter((l) => l.includes(`"${requestPrefix}`)).map((l) => / upstream=(.*?) upstream_status=/.exec(l)?.[1] ?? '?');
  }

  /** The access-log lines for requests starting with `requestPrefix`. */
  accessLines(requestPrefix: string): string[] {
    return readFileSync(join(this.nginx.dir, 'cluster.log'), 'utf8').split('\n').filter((l) => l.includes(`"${requestPrefix}`));
  }

  private async startIcecastSide(): Promise<void> {
    // docs/scaling.md's fallback files, made with its own commands: the loops from an "ident"
    // (a steady 880 Hz tone here, easy to tell from any show), and the chime files checked.
    const fallbackDir = join(this.dir, 'fallback');
    const ident = join(this.dir, 'ident.wav');
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `sine=frequency=${CHIME_HZ}:sample_rate=44100:duration=2`, ident]);
    await run('sh', ['-ec', substitute(docCommand('scaling.md', /^install -d .*\/var\/lib\/icewire-fallback$/), [['/var/lib/icewire-fallback', fallbackDir]])]);
    for (const name of ['ident', 'chime']) {
      for (const ext of ['ogg', 'mp3']) {
        const cmd = substitute(docCommand('scaling.md', new RegExp(`^ffmpeg .* /var/lib/icewire-fallback/${name}\\.${ext}$`)), [['/var/lib/icewire-fallback', fallbackDir], ['/root/ident.wav', ident]]);
        await run('sh', ['-ec', cmd.replace(/^ffmpeg /, 'ffmpeg -hide_banner -loglevel error -y ')]);
        this.fallbackFiles.push(join(fallbackDir, `${name}.${ext}`));
      }
    }
    const made: Record<'ogg' | 'mp3', string> = { ogg: join(fallbackDir, 'ident.ogg'), mp3: join(fallbackDir, 'ident.mp3') };
    chmodSync(this.dir, 0o755);
    const mounts: Record<string, IcecastMountSettings> = {};
    const feeds: string[] = [];
    for (const s of this.browserStations) {
      for (const ext of ['ogg', 'mp3'] as const) {
        mounts[`/${s}.${ext}`] = { fallbackMount: `/fallback/${s}.${ext}`, fallbackOverride: true };
        feeds.push(`/fallback/${s}.${ext} ${made[ext]}`);
      }
    }
    this.master = await startIcecast({ port: this.masterPort, sourcePassword: this.sourcePassword, adminPassword: this.icecastAdminPassword, mounts });
    const listFile = join(this.dir, 'fallback.list');
    const passwordFile = join(this.dir, 'icecast-source-password');
    writeFileSync(listFile, `# mount file\n${feeds.join('\n')}\n`);
    writeFileSync(passwordFile, `${this.sourcePassword}\n`, { mode: 0o600 });
    // As icecast/icewire-fallback.service runs it; as root, Liquidsoap wants to be told it may.
    const rootOk = userInfo().uid === 0 ? ['settings.init.allow_root.set(true)'] : [];
    const liq = spawn('liquidsoap', [...rootOk, join(PACKAGE_ROOT, 'icecast', 'fallback.liq')], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ICEWIRE_FALLBACK_LIST: listFile, ICEWIRE_FALLBACK_PASSWORD_FILE: passwordFile, ICEWIRE_ICECAST_HOST: '127.0.0.1', ICEWIRE_ICECAST_PORT: String(this.masterPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.liquidsoap = liq;
    const collect = (d: Buffer): void => { for (const l of d.toString().split('\n')) if (l !== '') this.liquidsoapLog.push(l); };
    liq.stdout!.on('data', collect);
    liq.stderr!.on('data', collect);
    this.liquidsoapExit = new Promise((resolve) => liq.once('exit', () => resolve()));
    const relayMounts = [...this.opts.shows.map((s) => `/${s}.ogg`), ...this.browserStations.flatMap((s) => [`/${s}.ogg`, `/${s}.mp3`])];
    this.relay = await startIcecast({ port: this.relayPort, adminPassword: this.icecastAdminPassword, sourcePassword: secret(), relay: { masterUrl: this.masterUrl, mounts: relayMounts, retryIntervalS: 1 } });
    const fallbacks = feeds.map((f) => f.split(' ')[0]!);
    try {
      await waitFor('Liquidsoap to feed every fallback mount', async () => {
        if (liq.exitCode !== null) throw new Error(`liquidsoap exited ${liq.exitCode}: ${this.liquidsoapLog.slice(-5).join('\n')}`);
        const now = await listMounts(this.masterUrl, this.icecastAdminPassword);
        return fallbacks.every((m) => now.includes(m));
      }, 30000, 200);
    } catch (err) {
      const master = this.master;
      const log = join(master.dir, 'log', 'error.log');
      const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-10).join('\n') : '(no error.log)';
      throw new Error(`${(err as Error).message}\nmaster icecast2 pid ${master.pid} ${master.pid !== undefined && existsSync(`/proc/${master.pid}`) ? 'running' : 'gone'}; its error.log ends:\n${tail}\nliquidsoap:\n${this.liquidsoapLog.slice(-10).join('\n')}`, { cause: err });
    }
  }

  /** One HTTPS request to nginx as live.example.org's stand-in, trusting the test certificate. */
  https(method: string, path: string, opts: { headers?: Record<string, string>; body?: string; host?: string } = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const host = opts.host ?? LIVE;
      const req = httpsRequest({
        host: '127.0.0.1', port: this.httpsPort, method, path, servername: host, ca: this.ca, agent: false,
        headers: { Host: `${host}:${this.httpsPort}`, ...(opts.body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...opts.headers },
      }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, json: () => JSON.parse(body) as unknown }));
      });
      req.on('error', reject);
      req.end(opts.body);
    });
  }

  /** A request straight to one daemon (bypassing nginx). */
  async direct(name: 'a' | 'b', method: string, path: string, body?: unknown): Promise<Answer> {
    const res = await fetch(`${this.daemon(name).process.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${this.adminToken}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text, json: () => JSON.parse(text) as unknown };
  }

  /** Stop and reap everything; collect every log line for the suite's secrets check. */
  async stop(): Promise<void> {
    for (const d of this.daemons) await d.process.stop();
    await this.nginx.stop();
    if (this.liquidsoap !== undefined && this.liquidsoap.exitCode === null && this.liquidsoap.signalCode === null) {
      this.liquidsoap.kill('SIGTERM');
      const t = setTimeout(() => this.liquidsoap!.kill('SIGKILL'), 5000);
      await this.liquidsoapExit;
      clearTimeout(t);
    }
    ALL_LOG_LINES.push(...this.liquidsoapLog);
    for (const ice of [this.relay, this.master]) {
      if (ice === undefined) continue;
      const logDir = join(ice.dir, 'log');
      for (const f of ['error.log', 'access.log']) {
        if (existsSync(join(logDir, f))) ALL_LOG_LINES.push(...readFileSync(join(logDir, f), 'utf8').split('\n'));
      }
      await ice.stop();
    }
    const access = join(this.nginx.dir, 'cluster.log');
    if (existsSync(access)) ALL_LOG_LINES.push(...readFileSync(access, 'utf8').split('\n'));
    this.nginx.remove();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
