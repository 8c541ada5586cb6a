// icewire installed and started the way docs/deploy.md and systemd/icewire.service do it, with
// the guide's own commands (steps 3-5: `npm install -g --prefix` of this checkout's package into a
// temp prefix, the user, the password files, Debian's icecast.xml edited by its sed, the sample
// config, check-config and doctor as the service user), then run as the unit's ExecStart runs
// it: `<prefix>/bin/icewire serve --config …` as its own unprivileged user, no
// capabilities, no_new_privs, NODE_ENV=production, no HOME, cwd /, its config and Icecast
// password files root:<group> 0640 (docs/deploy.md step 4's own commands make them, and its sed
// puts them into a copy of Debian's icecast.xml, which icecast2 then runs with), and a file
// system that is read-only everywhere except its state directory (the unit's
// ProtectSystem=strict + StateDirectory=). A webcast client goes live; Icecast listeners get valid
// Ogg/Opus (written by the daemon) and MP3 (from an ffmpeg the sandboxed daemon spawned), and the
// show is recorded into the state directory.
//
// How the sandbox is made here, without systemd: `unshare --mount` gives the daemon its own mount
// namespace (private propagation, so nothing leaks to the host); in it the state directory is
// bind-mounted onto itself (its own, writable mount) and then `/` is remounted read-only; then
// `setpriv` drops to the user with --clear-groups --no-new-privs and execs node. /proc, /sys and
// /dev stay as they are, as under ProtectSystem=strict. Differences from the unit: /tmp is
// read-only here (the unit gives a private writable one: stricter, so a daemon that passes here
// passes there), and there is no seccomp filter or IP allow-list (systemd-analyze rates those in
// test/ops/systemd.test.ts). Needs root to create the user and the namespace; skipped otherwise.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, parseConfig } from '../../server/config/load.js';
import { IcecastSource } from '../../server/icecast/icecast-source.js';
import { freePort } from '../../server/icecast/managed-icecast.js';
import { createLogger } from '../../server/log.js';
import { hashPassword } from '../../server/auth/password-hash.js';
import { PACKAGE_ROOT } from '../../server/paths.js';
import { spawnDaemon, type DaemonProcess } from '../helpers/daemon-process.js';
import { launcherOf } from '../../bench/launcher.js';
import { fixture, probe } from '../helpers/media.js';
import { listen, listMounts, waitFor, waitForMount, waitForMountGone } from '../helpers/listener.js';
import { ALL_LOG_LINES, ALL_SECRETS, secret, snapshotPs } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';
import { deployCommand, substitute } from './deploy-doc.js';

const run = promisify(execFile);
const USER = 'icewire-test';
const PATH = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';

/** sh script run by `unshare --mount`: $1 state dir, $2 uid, $3 gid, then the command. */
const SANDBOX = `
state=$1; uid=$2; gid=$3; shift 3
mount --bind "$state" "$state"
mount -o remount,bind,ro /
exec setpriv --reuid="$uid" --regid="$gid" --clear-groups --no-new-privs -- "$@"
`;

function sandboxArgs(state: string, uid: number, gid: number, cmd: string[]): string[] {
  return ['--mount', '--propagation', 'private', '--', 'sh', '-ec', SANDBOX, 'sandbox', state, String(uid), String(gid), ...cmd];
}

/** A deploy.md command line run with the test's names and paths. */
function deployLine(re: RegExp, pairs: [string, string][]): string {
  return substitute(deployCommand(re), pairs);
}

const DEBIAN_ICECAST_XML = '/etc/icecast2/icecast.xml';

interface DebianIcecast { url: string; port: number; adminPassword: string; xml: string; logdir: string; stop(): Promise<void> }

/**
 * icecast2 with a copy of Debian's icecast.xml after docs/deploy.md step 4's sed (passwords from
 * the files in `etc`), run as Debian's init script runs it (user icecast2, group icecast). Only
 * the port and the log directory are changed for the test.
 */
async function startDebianIcecast(dir: string, etc: string, adminPassword: string): Promise<DebianIcecast> {
  const xml = join(dir, 'icecast.xml');
  copyFileSync(DEBIAN_ICECAST_XML, xml);
  const sed = deployLine(/^sed -i .*\/etc\/icecast2\/icecast\.xml$/, [['/etc/icewire', etc], ['/etc/icecast2/icecast.xml', xml]]);
  await run('sh', ['-ec', sed]);
  const port = await freePort();
  const logdir = join(dir, 'icecast-log');
  mkdirSync(logdir);
  const owner = { uid: Number((await run('id', ['-u', 'icecast2'])).stdout), gid: Number((await run('getent', ['group', 'icecast'])).stdout.split(':')[2]) };
  chownSync(logdir, owner.uid, owner.gid);
  const text = readFileSync(xml, 'utf8');
  writeFileSync(xml, text.replace('<port>8000</port>', `<port>${port}</port>`).replace('<logdir>/var/log/icecast2</logdir>', `<logdir>${logdir}</logdir>`), { mode: 0o640 });
  chownSync(xml, 0, owner.gid);
  const child: ChildProcess = spawn('setpriv', ['--reuid=icecast2', '--regid=icecast', '--init-groups', '--', 'icecast2', '-c', xml], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor('icecast2 to answer', async () => {
    if (child.exitCode !== null) throw new Error(`icecast2 exited ${child.exitCode}: ${err}`);
    return (await fetch(`${url}/status-json.xsl`)).ok;
  }, 10000);
  return {
    url, port, adminPassword, xml, logdir,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

function procStatus(pid: number): Record<string, string> {
  return Object.fromEntries(readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').filter((l) => l.includes(':'))
    .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
}

describe('installed by docs/deploy.md, run as the unit runs it: unprivileged, read-only file system (needs root)', function () {
  this.timeout(60000);
  const isRoot = process.getuid?.() === 0;
  let createdUser = false;
  let uid: number;
  let gid: number;
  let dir: string;
  let etc: string;
  let state: string;
  let icecast: DebianIcecast | undefined;
  let daemon: DaemonProcess | undefined;
  let icecastSourcePassword: string;
  let prefix: string;

  before(async function () {
    if (!isRoot) {
      process.stderr.write('    (skipped: creating a user and a mount namespace needs root; CI runs as root)\n');
      this.skip();
    }
    // docs/deploy.md step 3's useradd, for a test user (an existing one is reused)
    try {
      await run('id', ['-u', USER]);
    } catch {
      await run('sh', ['-ec', deployLine(/^useradd /, [['/var/lib/icewire', '/nonexistent'], [' icewire', ` ${USER}`]])]);
      createdUser = true;
    }
    uid = Number((await run('id', ['-u', USER])).stdout.trim());
    gid = Number((await run('id', ['-g', USER])).stdout.trim());
    assert.notEqual(uid, 0);

    dir = mkdtempSync(join(tmpdir(), 'icewire-unpriv-'));
    chmodSync(dir, 0o755);
    // step 3: the package as npm publishes it (`npm pack` of this checkout, already built), installed
    // globally by the guide's command under a temp prefix instead of /usr/local
    const packed = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir, PACKAGE_ROOT]);
    const tarball = join(dir, packed.stdout.trim().split('\n').pop()!);
    prefix = join(dir, 'usr-local');
    const npmEnv = { ...process.env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_loglevel: 'error' };
    await run('sh', ['-ec', deployLine(/^npm install -g --prefix \/usr\/local --omit=optional icewire$/, [[' icewire', ` ${tarball}`], ['/usr/local', prefix]])], { env: npmEnv });
    const help = await run('sh', ['-ec', deployLine(/^\/usr\/local\/bin\/icewire --help$/, [['/usr/local', prefix]])]);
    assert.match(help.stdout, /^Usage: icewire /m);
    assert.match(help.stdout, /^ {2}doctor /m);
    etc = join(dir, 'etc');
    state = join(dir, 'state');
    // docs/deploy.md step 4: the config directory and the two Icecast passwords, root:group 0640
    const pairs: [string, string][] = [['/etc/icewire', etc], ['-g icewire ', `-g ${USER} `]];
    await run('sh', ['-ec', deployLine(/^install -d -m 0750 -o root -g icewire \/etc\/icewire$/, pairs)]);
    await run('sh', ['-ec', deployLine(/^for f in icecast-source-password icecast-admin-password/, pairs)]);
    const sourcePassword = readFileSync(join(etc, 'icecast-source-password'), 'utf8').trim();
    const adminPassword = readFileSync(join(etc, 'icecast-admin-password'), 'utf8').trim();
    ALL_SECRETS.add(sourcePassword);
    ALL_SECRETS.add(adminPassword);
    // the state directory as StateDirectory= makes it: owned by the user, 0750
    mkdirSync(state, { mode: 0o750 });
    chownSync(state, uid, gid);

    assert.ok(existsSync(DEBIAN_ICECAST_XML), `${DEBIAN_ICECAST_XML} (Debian's icecast2 package) is installed`);
    icecast = await startDebianIcecast(dir, etc, adminPassword);
    icecastSourcePassword = sourcePassword;
  });

  after(async () => {
    await daemon?.stop('SIGKILL');
    await icecast?.stop();
    if (icecast !== undefined) {
      // Icecast's access log records every URL: the suite's secrets check reads it
      for (const f of readdirSync(icecast.logdir)) ALL_LOG_LINES.push(...readFileSync(join(icecast.logdir, f), 'utf8').split('\n'));
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    if (createdUser) await run('userdel', [USER]);
  });

  it('the sandbox is real: the user, no capabilities, no_new_privs, / read-only, the state dir writable', async () => {
    const probeScript = 'id -u; id -G; grep -E "^(CapEff|NoNewPrivs):" /proc/self/status; touch "$1/probe" && rm "$1/probe" && echo state-writable; touch /icewire-probe 2>&1 || true; touch /tmp/icewire-probe 2>&1 || true';
    const { stdout } = await run('unshare', sandboxArgs(state, uid, gid, ['sh', '-c', probeScript, 'probe', state]), { cwd: '/' });
    const lines = stdout.trim().split('\n');
    assert.equal(lines[0], String(uid));
    assert.equal(lines[1], String(gid), 'only its own group');
    assert.match(stdout, /^CapEff:\s+0+$/m);
    assert.match(stdout, /^NoNewPrivs:\s+1$/m);
    assert.match(stdout, /^state-writable$/m);
    assert.match(stdout, /touch: cannot touch '\/icewire-probe': Read-only file system/);
    assert.match(stdout, /touch: cannot touch '\/tmp\/icewire-probe': Read-only file system/);
  });

  it('docs/deploy.md step 4\'s sed sets Debian\'s icecast.xml up: icecast2 runs with it and takes the generated passwords', async () => {
    const xml = readFileSync(icecast!.xml, 'utf8');
    assert.match(xml, /^\s*<sources>10<\/sources>/m);
    assert.match(xml, /^\s*<burst-size>32768<\/burst-size>/m);
    assert.match(xml, /^\s*<bind-address>127\.0\.0\.1<\/bind-address>/m);
    for (const tag of ['source-password', 'admin-password', 'relay-password']) {
      assert.match(xml, new RegExp(`<${tag}>[0-9a-f]{48}</${tag}>`), `${tag} is a generated one`);
    }
    const logger = createLogger({ console: false });
    logger.silent = true;
    const src = new IcecastSource({ url: icecast!.url, mount: '/step4.ogg', user: 'source', password: icecastSourcePassword, contentType: 'audio/ogg', ice: {}, connectTimeoutMs: 3000, logger });
    await src.connect();
    assert.deepEqual(await listMounts(icecast!.url, icecast!.adminPassword), ['/step4.ogg'], 'the admin password works');
    await src.end();
    await waitForMountGone(icecast!.url, icecast!.adminPassword, '/step4.ogg', 3000);
  });

  it('the service user can read its config: check-config and doctor as in docs/deploy.md', async () => {
    const pairs: [string, string][] = [
      ['/usr/local', prefix],
      ['/etc/icewire/icewire.yaml', join(etc, 'icewire.yaml')], ['-g icewire ', `-g ${USER} `], ['-u icewire ', `-u ${USER} `],
    ];
    const checkConfig = deployLine(/^runuser -u icewire -- \/usr\/local\/bin\/icewire check-config /, pairs);
    // step 5 on the shipped sample: install it, put the names in; it is valid as it stands
    await run('sh', ['-ec', deployLine(/^install -m 0640 .*config\.sample\.yaml /, pairs)]);
    await run('sh', ['-ec', deployLine(/^sed -i "s\/live.* \/etc\/icewire\/icewire\.yaml$/, pairs)], { env: { ...process.env, LIVE: 'live.test', RADIO: 'radio.test' } });
    const sample = readFileSync(join(etc, 'icewire.yaml'), 'utf8');
    assert.match(sample, /^publicUrl: https:\/\/live\.test$/m);
    assert.doesNotMatch(sample, /example\.org/);
    // (the test keeps its password files elsewhere than /etc/icewire)
    writeFileSync(join(etc, 'icewire.yaml'), sample.split('/etc/icewire/').join(`${etc}/`));
    const sampleCheck = await run('sh', ['-ec', checkConfig], { cwd: '/' });
    assert.match(sampleCheck.stderr, /OK \(auth mode accounts, 1 station mount\(s\), 1 broadcaster\(s\)\)/);

    // then the test's own config (a broadcaster whose password it knows, its Icecast, a free port)
    await writeConfig(await freePort());
    const check = await run('sh', ['-ec', checkConfig], { cwd: '/' });
    assert.match(check.stderr, /OK \(auth mode accounts, 1 station mount\(s\), 1 broadcaster\(s\)\)/);
    const doctor = await run('sh', ['-ec', deployLine(/^runuser -u icewire -- \/usr\/local\/bin\/icewire doctor/, pairs)], { cwd: '/' })
      .catch((err: { stdout?: string; message: string }) => { throw new Error(`${err.message}\n${err.stdout ?? ''}`); });
    ALL_LOG_LINES.push(...doctor.stdout.split('\n'));
    assert.match(doctor.stdout, /^ok {4}Icecast source login source@\/live\.ogg: accepted$/m);
    assert.match(doctor.stdout, /^ok {4}Icecast source login source@\/live\.mp3: accepted$/m);
    assert.doesNotMatch(doctor.stdout, /^FAIL/m);
  });

  /** Whether this config schema has show recordings (mounts.<name>.record, recordings.dir). */
  const canRecord = ((): boolean => {
    try {
      parseConfig({ recordings: { dir: '/x' }, mounts: { live: { record: true, renditions: [{ mount: '/x.ogg', format: 'ogg-opus' }] } } }, { env: {} });
      return true;
    } catch (err) {
      if (err instanceof ConfigError) return false;
      throw err;
    }
  })();
  let broadcasterPassword: string;
  let daemonPort: number;
  async function writeConfig(port: number): Promise<void> {
    daemonPort = port;
    broadcasterPassword ??= secret();
    const cfg = {
      listen: { host: '127.0.0.1', port },
      trustProxy: true,
      icecast: {
        url: icecast!.url,
        sourcePasswordFile: join(etc, 'icecast-source-password'),
        adminUser: 'admin',
        adminPasswordFile: join(etc, 'icecast-admin-password'),
        statsIntervalMs: 1000,
      },
      broadcasters: [{ name: 'alice', passwordHash: await hashPassword(broadcasterPassword), mounts: ['live'] }],
      mounts: { live: { name: 'Unprivileged test', renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }, { mount: '/live.mp3', format: 'mp3', bitrate: 96 }], ...(canRecord ? { record: true } : {}) } },
      // the one place it may write, as /var/lib/icewire/recordings is under the unit
      ...(canRecord ? { recordings: { dir: join(state, 'recordings') } } : {}),
    };
    const file = join(etc, 'icewire.yaml');
    writeFileSync(file, JSON.stringify(cfg, null, 2), { mode: 0o640 });
    chownSync(file, 0, gid);
  }

  it('serves as that user on a read-only file system: goes live, listeners get Opus and MP3, SIGTERM exits 0', async () => {
    if (daemonPort === undefined) await writeConfig(await freePort());
    // The unit's ExecStart (with the temp prefix) and environment: NODE_ENV=production, no HOME;
    // cwd / (systemd's default). The installed icewire is a `#!/usr/bin/env -S … node …` script.
    const execStart = /^ExecStart=(.*)$/m.exec(readFileSync(join(PACKAGE_ROOT, 'systemd', 'icewire.service'), 'utf8'))![1]!;
    const cmd = substitute(execStart, [['/usr/local', prefix], ['/etc/icewire', etc]]).split(' ');
    assert.deepEqual(cmd.slice(1), ['serve', '--config', join(etc, 'icewire.yaml')]);
    daemon = await spawnDaemon({ argv: ['unshare', ...sandboxArgs(state, uid, gid, cmd)], cwd: '/', cleanEnv: true, env: { NODE_ENV: 'production', PATH } });
    assert.equal(daemon.url, `http://127.0.0.1:${daemonPort}`);

    // what the kernel says about the running daemon (unshare, sh and setpriv all exec: same pid)
    const pid = daemon.child.pid!;
    const st = procStatus(pid);
    assert.match(st['Name'] ?? '', /node/);
    assert.deepEqual(st['Uid']?.split(/\s+/), [String(uid), String(uid), String(uid), String(uid)]);
    assert.deepEqual(st['Gid']?.split(/\s+/), [String(gid), String(gid), String(gid), String(gid)]);
    assert.equal(st['Groups'], '');
    assert.equal(st['NoNewPrivs'], '1');
    assert.match(st['CapEff'] ?? '', /^0+$/);
    assert.equal(readlinkSync(`/proc/${pid}/cwd`), '/');
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter((e) => e !== '');
    // the unit's Environment=, what exec'ing through sh adds (PWD) and the icewire command's own
    // launcher (its #! line: malloc settings, and node flags); no HOME
    const launcher = launcherOf(join(PACKAGE_ROOT, 'dist', 'server', 'main.js'));
    assert.deepEqual(env.map((e) => e.split('=')[0]).sort(), ['NODE_ENV', 'PATH', 'PWD', ...Object.keys(launcher.env)].sort());
    assert.ok(env.includes('NODE_ENV=production'));
    for (const [k, v] of Object.entries(launcher.env)) assert.ok(env.includes(`${k}=${v}`), `${k} from the launcher`);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    for (const flag of launcher.nodeArgs) assert.ok(argv.includes(flag), `node runs with ${flag}`);
    const mounts = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').map((l) => l.split(' '));
    assert.match(mounts.find((m) => m[4] === '/')?.[5] ?? '', /^ro\b/, '/ is read-only for the daemon');
    assert.match(mounts.find((m) => m[4] === state)?.[5] ?? '', /^rw\b/, 'its state directory is writable');

    const c = new WebcastClient(`ws://127.0.0.1:${daemonPort}/ws/live`);
    await c.opened;
    c.hello({ mime: 'audio/webm;codecs=opus', user: 'alice', password: broadcasterPassword });
    const streaming = c.stream(await fixture('audio-webm', 10), { seconds: 10 });
    await c.live(10000);
    await waitForMount(icecast!.url, icecast!.adminPassword, '/live.ogg');
    await waitForMount(icecast!.url, icecast!.adminPassword, '/live.mp3');
    snapshotPs();
    const ffmpegPids = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n').filter((l) => /ffmpeg/.test(l)).map((l) => Number(l.trim().split(/\s+/)[0]));
    assert.equal(ffmpegPids.length, 1, 'the sandboxed daemon runs one ffmpeg (the MP3 rendition)');
    assert.deepEqual(procStatus(ffmpegPids[0]!)['Uid']?.split(/\s+/)[0], String(uid), 'ffmpeg runs as the user too');

    const ogg = listen(`${icecast!.url}/live.ogg`, { maxMs: 4000 });
    const mp3 = listen(`${icecast!.url}/live.mp3`, { maxMs: 4000 });
    assert.equal(await ogg.status, 200);
    assert.equal(await mp3.status, 200);
    const [oggBytes, mp3Bytes] = await Promise.all([ogg.done, mp3.done]);
    const po = await probe(oggBytes);
    assert.deepEqual(po.streams.map((s) => s.codec), ['opus']);
    assert.ok(po.audioSeconds >= 3, `Ogg listener got ${po.audioSeconds.toFixed(2)} s of Opus`);
    const pm = await probe(mp3Bytes, 'mp3');
    assert.deepEqual(pm.streams.map((s) => s.codec), ['mp3']);
    assert.ok(pm.audioSeconds >= 3, `MP3 listener got ${pm.audioSeconds.toFixed(2)} s`);

    const t0 = Date.now();
    const stopped = daemon.stop('SIGTERM');
    const closed = await c.closed;
    assert.equal(closed.code, 1001);
    await streaming;
    const exit = await stopped;
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, daemon.output().split('\n').slice(-10).join('\n'));
    assert.ok(Date.now() - t0 < 10000);
    await waitForMountGone(icecast!.url, icecast!.adminPassword, '/live.ogg', 3000);
    const alive = ffmpegPids.filter((p) => { try { process.kill(p, 0); return true; } catch { return false; } });
    assert.deepEqual(alive, [], 'no ffmpeg outlives the daemon');
    assert.doesNotMatch(daemon.output(), /EROFS|EACCES|read-only file system/i, 'the daemon tried to write nowhere it may not');
    if (!canRecord) return; // a config schema without recordings: nothing more to check
    // the show was recorded in the state directory, owned by the service user
    const recDir = join(state, 'recordings', 'live');
    const files = readdirSync(recDir).filter((f) => f.endsWith('.ogg'));
    assert.equal(files.length, 1, `recordings: ${readdirSync(recDir).join(', ')}`);
    const rec = statSync(join(recDir, files[0]!));
    assert.equal(rec.uid, uid);
    const pr = await probe(join(recDir, files[0]!));
    assert.deepEqual(pr.streams.map((x) => x.codec), ['opus']);
    assert.ok(pr.audioSeconds >= 3, `recorded ${pr.audioSeconds.toFixed(2)} s`);
  });
});
