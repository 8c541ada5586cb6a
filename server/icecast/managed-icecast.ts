// A private icecast2 with a generated config on a free localhost port: the demo station
// (`npm start`) and the tests run one. Never used by `icewire serve` against a real station.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

export interface ManagedIcecastOptions {
  /** Port to listen on; 0 picks a free one. */
  port?: number;
  sourcePassword?: string;
  adminPassword?: string;
  /** Icecast's source-timeout in seconds (its default is 10). */
  sourceTimeoutS?: number;
  /** Icecast's <sources> limit (default 500; the benchmark's thousand broadcasts need more). */
  maxSources?: number;
  binary?: string;
  /**
   * Per-mount settings written as <mount> blocks, e.g. `{ '/live.mp3': { charset: 'UTF-8' } }`;
   * `'*'` is the default for every mount (`<mount type="default">`).
   */
  mounts?: Readonly<Record<string, IcecastMountSettings>>;
  /** Make this Icecast a relay: pull these mounts from a master (`<relay>` per mount). */
  relay?: IcecastRelaySettings;
  /**
   * Called once each time icecast2 exits when nobody asked it to (not stop(), kill() or
   * restart()): a crash, or a kill from outside. restart() brings it back.
   */
  onUnexpectedExit?: (exit: { code: number | null; signal: NodeJS.Signals | null }) => void;
}

export interface IcecastMountSettings {
  /** Without a charset, Icecast takes MP3 titles as ISO-8859-1 (docs/notes/icecast.md). */
  readonly charset?: string;
  /**
   * Where listeners go when the mount's source disconnects. Icecast moves them only to a mount
   * that is running (fed in real time, e.g. by icecast/fallback.liq) or to a file in webroot
   * (sent faster than real time: see docs/scaling.md).
   */
  readonly fallbackMount?: string;
  /** Move the fallback's listeners back when a source connects to this mount again (default true). */
  readonly fallbackOverride?: boolean;
}

export interface IcecastRelaySettings {
  /** The master Icecast, e.g. http://127.0.0.1:8000. */
  readonly masterUrl: string;
  /** Mounts to pull, each to the same mount here. */
  readonly mounts: readonly string[];
  /**
   * Icecast's master-update-interval in seconds: also how long a relay waits before asking the
   * master again for a mount it did not have (Icecast's default, 120, is slow for live shows).
   */
  readonly retryIntervalS?: number;
}

export interface ManagedIcecast {
  readonly url: string;
  readonly port: number;
  readonly sourcePassword: string;
  readonly adminPassword: string;
  readonly dir: string;
  /** Resolves when the process has exited. */
  stop(): Promise<void>;
  /** Kill it hard (for fault tests) and wait for the exit. */
  kill(): Promise<void>;
  /** Start it again on the same port with the same config. */
  restart(): Promise<void>;
  readonly pid: number | undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Pure: the `<mount>` sections for `mounts`. */
export function mountSectionsXml(mounts: ManagedIcecastOptions['mounts']): string {
  return Object.entries(mounts ?? {}).map(([name, m]) => {
    const lines = name === '*' ? [] : [`    <mount-name>${xmlEscape(name)}</mount-name>`];
    if (m.charset !== undefined) lines.push(`    <charset>${xmlEscape(m.charset)}</charset>`);
    if (m.fallbackMount !== undefined) {
      lines.push(`    <fallback-mount>${xmlEscape(m.fallbackMount)}</fallback-mount>`);
      lines.push(`    <fallback-override>${m.fallbackOverride === false ? 0 : 1}</fallback-override>`);
    }
    return `  <mount type="${name === '*' ? 'default' : 'normal'}">\n${lines.map((l) => `${l}\n`).join('')}  </mount>\n`;
  }).join('');
}

/** Pure: `<master-update-interval>` and one `<relay>` per mount (never on-demand: listeners of a live show must not wait for a pull). */
export function relaySectionsXml(relay: IcecastRelaySettings): string {
  const master = new URL(relay.masterUrl);
  const port = master.port !== '' ? master.port : master.protocol === 'https:' ? '443' : '80';
  return `  <master-update-interval>${relay.retryIntervalS ?? 5}</master-update-interval>\n${relay.mounts.map((m) => `  <relay>
    <server>${xmlEscape(master.hostname)}</server>
    <port>${port}</port>
    <mount>${xmlEscape(m)}</mount>
    <local-mount>${xmlEscape(m)}</local-mount>
    <on-demand>0</on-demand>
    <relay-shoutcast-metadata>1</relay-shoutcast-metadata>
  </relay>
`).join('')}`;
}

function icecastXml(o: { port: number; dir: string; sourcePassword: string; adminPassword: string; sourceTimeoutS: number; asRoot: boolean; mounts: ManagedIcecastOptions['mounts']; relay: IcecastRelaySettings | undefined; maxSources?: number | undefined }): string {
  const share = existsSync('/usr/share/icecast2') ? '/usr/share/icecast2' : '/usr/local/share/icecast';
  return `<icecast>
  <location>icewire test</location>
  <admin>icewire@localhost</admin>
  <limits>
    <clients>${Math.max(2000, (o.maxSources ?? 500) + 1000)}</clients>
    <sources>${o.maxSources ?? 500}</sources>
    <queue-size>524288</queue-size>
    <client-timeout>30</client-timeout>
    <header-timeout>15</header-timeout>
    <source-timeout>${o.sourceTimeoutS}</source-timeout>
    <burst-on-connect>1</burst-on-connect>
    <burst-size>65535</burst-size>
  </limits>
  <authentication>
    <source-password>${xmlEscape(o.sourcePassword)}</source-password>
    <relay-password>${xmlEscape(o.sourcePassword)}</relay-password>
    <admin-user>admin</admin-user>
    <admin-password>${xmlEscape(o.adminPassword)}</admin-password>
  </authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket>
    <port>${o.port}</port>
    <bind-address>127.0.0.1</bind-address>
  </listen-socket>
  <fileserve>1</fileserve>
${mountSectionsXml(o.mounts)}${o.relay !== undefined ? relaySectionsXml(o.relay) : ''}  <paths>
    <basedir>${share}</basedir>
    <logdir>${o.dir}/log</logdir>
    <webroot>${share}/web</webroot>
    <adminroot>${share}/admin</adminroot>
    <pidfile>${o.dir}/icecast.pid</pidfile>
  </paths>
  <logging>
    <accesslog>access.log</accesslog>
    <errorlog>error.log</errorlog>
    <loglevel>3</loglevel>
    <logsize>10000</logsize>
  </logging>
  <security>
    <chroot>0</chroot>${o.asRoot ? `
    <changeowner>
      <user>icecast2</user>
      <group>icecast</group>
    </changeowner>` : ''}
  </security>
</icecast>
`;
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number, errPath: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      let log = '';
      try { log = readFileSync(errPath, 'utf8').split('\n').slice(-10).join('\n'); } catch { /* no log yet */ }
      throw new Error(`icecast2 exited during start-up (code ${child.exitCode}): ${log}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`icecast2 did not listen on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function findIcecast(): string {
  for (const p of ['/usr/bin/icecast2', '/usr/local/bin/icecast', '/usr/bin/icecast']) {
    if (existsSync(p)) return p;
  }
  throw new Error('icecast2 is not installed. On Debian/Ubuntu: sudo apt install icecast2');
}

export async function startIcecast(opts: ManagedIcecastOptions = {}): Promise<ManagedIcecast> {
  const binary = opts.binary ?? findIcecast();
  const port = opts.port && opts.port > 0 ? opts.port : await freePort();
  const sourcePassword = opts.sourcePassword ?? randomBytes(12).toString('base64url');
  const adminPassword = opts.adminPassword ?? randomBytes(12).toString('base64url');
  const dir = mkdtempSync(join(tmpdir(), 'icewire-icecast-'));
  const asRoot = userInfo().uid === 0;
  mkdirSync(join(dir, 'log'));
  if (asRoot) {
    // icecast refuses to run as root without <changeowner>; after dropping privileges it must
    // still be able to write its logs.
    const uid = Number(execFileSync('id', ['-u', 'icecast2']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'icecast2']).toString().trim());
    chownSync(join(dir, 'log'), uid, gid);
    chownSync(dir, uid, gid);
  }
  const configPath = join(dir, 'icecast.xml');
  writeFileSync(configPath, icecastXml({ port, dir, sourcePassword, adminPassword, sourceTimeoutS: opts.sourceTimeoutS ?? 10, asRoot, mounts: opts.mounts, relay: opts.relay, maxSources: opts.maxSources }), { mode: 0o640 });
  if (asRoot) {
    const gid = Number(execFileSync('id', ['-g', 'icecast2']).toString().trim());
    chownSync(configPath, 0, gid);
  }

  let child: ChildProcess;
  let exited: Promise<void>;
  /** Set while this module itself stops the child, so its exit is not reported as unexpected. */
  let stopping = false;
  const launch = async (): Promise<void> => {
    // a failed start-up is reported by launch() itself, not as an unexpected exit
    let started = false;
    const c = spawn(binary, ['-c', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    c.stderr?.resume();
    exited = new Promise((resolve) => c.once('exit', (code, signal) => {
      resolve();
      if (!stopping && child === c && started) {
        try {
          opts.onUnexpectedExit?.({ code, signal });
        } catch {
          // a listener's exception must not become an unhandled one in the exit handler
        }
      }
    }));
    await waitForPort(port, c, 10000, join(dir, 'log', 'error.log'));
    started = true;
  };
  await launch();

  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      stopping = true;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
      stopping = false;
    }
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    sourcePassword,
    adminPassword,
    dir,
    get pid() { return child.pid; },
    async stop() {
      await stopWith('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      await stopWith('SIGKILL');
    },
    async restart() {
      await stopWith('SIGKILL');
      await launch();
    },
  };
}
