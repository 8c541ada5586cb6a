// `icewire doctor` as an operator runs it: the real CLI process against a real icecast2 and the
// real ffmpeg, with a generated config file (JSON written to a .yaml file: YAML is a superset).
// Each broken setup must be named, with its fix, and make the exit code 1 (78 for a bad config);
// a good one passes and leaves no mount behind on Icecast.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfig } from '../../server/config/load.js';
import { ffmpegNeeds, parseFfmpegList, runDoctor, type DoctorCheck } from '../../server/doctor.js';
import { IcecastSource } from '../../server/icecast/icecast-source.js';
import { freePort, startIcecast, type ManagedIcecast } from '../../server/icecast/managed-icecast.js';
import { hashPassword } from '../../server/auth/password-hash.js';
import { createLogger } from '../../server/log.js';
import { PACKAGE_ROOT } from '../../server/paths.js';
import { runIcewire } from '../helpers/daemon-process.js';
import { ffmpegWithout } from '../helpers/ffmpeg-without.js';
import { listMounts } from '../helpers/listener.js';
import { secret } from '../helpers/stack.js';

interface Run { code: number | null; stdout: string; stderr: string }

/** `icewire doctor` with only what the daemon's environment would have: no inherited ICEWIRE_* from the test run. */
function runDoctorCli(args: string[], env: NodeJS.ProcessEnv, wrap: string[] = []): Promise<Run> {
  return runIcewire(['doctor', ...args], { env, cleanEnv: true, cwd: '/', wrap });
}

/** The `<status>  <what>` line that matches, and the fix line under it (if any). */
function line(out: string, status: string, what: RegExp): { text: string; fix: string | undefined } | undefined {
  const lines = out.split('\n');
  const i = lines.findIndex((l) => l.startsWith(`${status.padEnd(4)}  `) && what.test(l));
  if (i < 0) return undefined;
  const next = lines[i + 1];
  const fix = next !== undefined && /^ {6}fix: /.test(next) ? next.replace(/^ {6}fix: /, '') : undefined;
  return { text: lines[i]!, fix };
}

function assertLine(r: Run, status: 'ok' | 'FAIL' | 'warn', what: RegExp, fix?: RegExp): void {
  const l = line(r.stdout, status, what);
  assert.ok(l, `expected a "${status}" line matching ${what} in:\n${r.stdout}${r.stderr}`);
  if (fix !== undefined) {
    assert.ok(l.fix !== undefined, `"${l.text}" has a fix: line`);
    assert.match(l.fix, fix);
  }
}

describe('icewire doctor', function () {
  this.timeout(30000);
  let icecast: ManagedIcecast;
  let dir: string;
  let broadcasterHash: string;

  before(async () => {
    // a well-set-up station: its MP3 mount keeps titles in UTF-8 (docs/deploy.md)
    icecast = await startIcecast({ sourcePassword: secret(), adminPassword: secret(), mounts: { '/live.mp3': { charset: 'UTF-8' } } });
    dir = mkdtempSync(join(tmpdir(), 'icewire-doctor-'));
    chmodSync(dir, 0o755); // the recordings case runs doctor as another user
    broadcasterHash = await hashPassword(secret());
  });
  after(async () => {
    await icecast?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  let n = 0;
  /** A station config (accounts mode, Ogg/Opus copy + MP3 transcode) with overrides, as a file. */
  function configFile(over: Record<string, unknown> = {}, icecastOver: Record<string, unknown> = {}): string {
    const raw = {
      listen: { host: '127.0.0.1', port: 8080 },
      publicUrl: 'https://live.example.org',
      icecast: { url: icecast.url, sourceUser: 'source', ...icecastOver },
      broadcasters: [{ name: 'alice', passwordHash: broadcasterHash, mounts: ['live'] }],
      mounts: {
        live: { name: 'Doctor test', renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }, { mount: '/live.mp3', format: 'mp3', bitrate: 128, charset: 'UTF-8' }] },
      },
      ...over,
    };
    const file = join(dir, `icewire-${n++}.yaml`);
    writeFileSync(file, JSON.stringify(raw, null, 2), { mode: 0o644 });
    return file;
  }

  const goodEnv = (): NodeJS.ProcessEnv => ({ ICEWIRE_ICECAST_SOURCE_PASSWORD: icecast.sourcePassword });

  function assertNoSecret(r: Run, ...secrets: string[]): void {
    for (const s of [icecast.sourcePassword, icecast.adminPassword, ...secrets]) {
      assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), 'doctor printed a secret');
    }
  }

  it('passes on a good setup: every check ok, exit 0, and no mount is left on Icecast', async () => {
    const r = await runDoctorCli(['--config', configFile()], goodEnv());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /^(FAIL|warn) /m);
    assertLine(r, 'ok', /^ok {4}config .*accounts mode, 1 station mount\(s\), 2 Icecast mount\(s\)/);
    assertLine(r, 'ok', /ffmpeg \d+\.\d+\S* \(\/\S*ffmpeg\)/);
    assertLine(r, 'ok', /encoder libmp3lame, muxer mp3, demuxer ogg/);
    assertLine(r, 'ok', /Icecast at http:\/\/127\.0\.0\.1:\d+ \(Icecast 2\.\d/);
    assertLine(r, 'ok', /source login source@\/live\.ogg: accepted$/);
    assertLine(r, 'ok', /source login source@\/live\.mp3: accepted$/);
    assertLine(r, 'ok', /Icecast mount \/live\.mp3 titles: UTF-8/);
    assertLine(r, 'ok', /publicUrl https:\/\/live\.example\.org is https/);
    assert.match(r.stdout, /all checks passed\n$/);
    assertNoSecret(r);
    // doctor waits until Icecast has dropped its test sources before it exits
    assert.deepEqual(await listMounts(icecast.url, icecast.adminPassword), []);
  });

  it('no ffmpeg: names ffmpegPath and says how to install it', async () => {
    const r = await runDoctorCli(['--config', configFile({ ffmpegPath: '/nonexistent/ffmpeg' })], goodEnv());
    assert.equal(r.code, 1, r.stdout);
    assertLine(r, 'FAIL', /ffmpegPath \/nonexistent\/ffmpeg: not found/, /apt-get install ffmpeg.*ffmpegPath: \/usr\/bin\/ffmpeg/);
    assertLine(r, 'ok', /source login source@\/live\.ogg: accepted/); // the other checks still ran
    assert.match(r.stdout, /1 check\(s\) failed/);
  });

  it('an ffmpeg without libmp3lame: names the encoder and the rendition that needs it', async () => {
    // Runs the real ffmpeg, but `-encoders` lists no libmp3lame (as in a minimal ffmpeg build).
    const wrapper = ffmpegWithout('libmp3lame');
    const r = await runDoctorCli(['--config', configFile({ ffmpegPath: wrapper })], goodEnv());
    assert.equal(r.code, 1, r.stdout);
    assertLine(r, 'ok', /ffmpeg \d+\.\d+/); // it is found and runs
    assertLine(r, 'FAIL', /ffmpeg has no libmp3lame encoder, needed by \/live\.mp3 \(mp3 128k\)/, /ffmpegPath: \/usr\/bin\/ffmpeg|apt-get install ffmpeg/);
    assertLine(r, 'ok', /muxer mp3, demuxer ogg/);
    assert.match(r.stdout, /1 check\(s\) failed/);
  });

  it('Icecast down: says it is unreachable and how to start it', async () => {
    const port = await freePort();
    const r = await runDoctorCli(['--config', configFile({}, { url: `http://127.0.0.1:${port}` })], goodEnv());
    assert.equal(r.code, 1, r.stdout);
    assertLine(r, 'FAIL', new RegExp(`Icecast at http://127\\.0\\.0\\.1:${port}: unreachable \\(ECONNREFUSED\\)`), /systemctl start icecast2.*icecast\.url/);
    assertLine(r, 'warn', /source login source@\/live\.ogg: not checked \(Icecast is unreachable\)/);
  });

  it('wrong source password: names where the password comes from and where the right one is', async () => {
    const wrong = secret();
    const r = await runDoctorCli(['--config', configFile()], { ICEWIRE_ICECAST_SOURCE_PASSWORD: wrong });
    assert.equal(r.code, 1, r.stdout);
    assertLine(r, 'FAIL', /source login source@\/live\.ogg: Icecast refused the user or password \(401\)/,
      /ICEWIRE_ICECAST_SOURCE_PASSWORD environment variable.*<source-password> from \/etc\/icecast2\/icecast\.xml/);
    assertLine(r, 'FAIL', /source login source@\/live\.mp3: Icecast refused/);
    assert.match(r.stdout, /2 check\(s\) failed/);
    assertNoSecret(r, wrong);
    assert.deepEqual(await listMounts(icecast.url, icecast.adminPassword), []);
  });

  it('wrong password from a file: the fix names the config keys', async () => {
    const pwFile = join(dir, 'source-password');
    writeFileSync(pwFile, `${secret()}\n`, { mode: 0o600 });
    const r = await runDoctorCli(['--config', configFile({}, { sourcePasswordFile: pwFile })], {});
    assert.equal(r.code, 1, r.stdout);
    assertLine(r, 'FAIL', /source login source@\/live\.ogg: Icecast refused/, /icecast\.sourcePasswordFile \(or icecast\.sourcePassword\) in \/\S+\.yaml/);
  });

  it('unwritable recordings directory: names it and the fix', async function () {
    const recDir = join(dir, 'recordings');
    mkdirSync(recDir, { mode: 0o555 });
    const over = { recordings: { dir: recDir }, mounts: { live: { record: true, renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }] } } };
    try {
      parseConfig({ ...over, icecast: { sourcePassword: 'x' }, broadcasters: [{ name: 'alice', passwordHash: broadcasterHash, mounts: ['live'] }] }, { env: {} });
    } catch (err) {
      // A schema without recordings (no recorder): doctor checks them only when the loaded
      // config has them, and this test has nothing to check.
      if (err instanceof ConfigError && /recordings|record/.test(err.message)) this.skip();
      throw err;
    }
    // root may write anywhere: run doctor as nobody, as the unit runs the daemon as its own user
    const wrap = userInfo().uid === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] : [];
    const r = await runDoctorCli(['--config', configFile(over)], goodEnv(), wrap);
    assert.equal(r.code, 1, r.stdout);
    assertLine(r, 'FAIL', new RegExp(`recordings directory ${recDir} \\(for live\\) is not writable by user`), /chown icewire:icewire/);
    // a directory that is not there yet is fine when it can be created
    const r2 = await runDoctorCli(['--config', configFile({ ...over, recordings: { dir: join(dir, 'new', 'recordings') } })], goodEnv());
    assertLine(r2, 'ok', new RegExp(`recordings directory ${dir}/new/recordings does not exist yet; user \\S+ can create it in ${dir}$`));
    assertLine(r2, 'warn', /is outside \/var\/lib\/icewire/, /ReadWritePaths=/);
    assert.equal(r2.code, 0, r2.stdout);
  });

  it('http publicUrl on a public name is a warning, not a failure', async () => {
    const r = await runDoctorCli(['--config', configFile({ publicUrl: 'http://live.example.org' })], goodEnv());
    assert.equal(r.code, 0, r.stdout);
    assertLine(r, 'warn', /publicUrl http:\/\/live\.example\.org is http: browsers allow the microphone only on https/, /nginx.*publicUrl: https:\/\/live\.example\.org/);
    assert.match(r.stdout, /all checks passed \(1 warning\(s\)\)/);
  });

  it('invalid config: exit 78 like check-config, naming the key', async () => {
    const r = await runDoctorCli(['--config', join(PACKAGE_ROOT, 'test', 'fixtures', 'broken-config.yaml')], {});
    assert.equal(r.code, 78, r.stdout + r.stderr);
    assertLine(r, 'FAIL', /config .*broken-config\.yaml is invalid/);
    assert.match(r.stdout, /mounts\.live\.renditions\.1\.format/);
    assert.match(r.stdout, /fix: .*icewire check-config/);
  });

  it('without --config or /etc/icewire/icewire.yaml: checks the passthrough defaults, credentials skipped', async function () {
    if (existsSync('/etc/icewire/icewire.yaml')) this.skip(); // this machine has a station config
    const r = await runDoctorCli([], {});
    assertLine(r, 'ok', /config: none \(no \/etc\/icewire\/icewire\.yaml\): passthrough mode against http:\/\/127\.0\.0\.1:8000/);
    assertLine(r, 'ok', /source password: skipped \(passthrough mode/);
    // passthrough mounts pick their format by extension: everything a .mp3 or .webm mount needs
    assertLine(r, 'ok', /encoder libmp3lame, encoder libopus, muxer mp3, muxer webm, demuxer matroska, demuxer ogg/);
  });

  describe('in-process (runDoctor)', () => {
    it('a mount that is live right now is "in use (someone is live)", not a failure, and stays live', async () => {
      const logger = createLogger({ console: false });
      logger.silent = true;
      const live = new IcecastSource({
        url: icecast.url, mount: '/live.ogg', user: 'source', password: icecast.sourcePassword, contentType: 'audio/ogg',
        ice: {}, connectTimeoutMs: 3000, logger,
      });
      await live.connect();
      try {
        const config = parseConfig({
          publicUrl: 'https://live.example.org',
          icecast: { url: icecast.url, adminUser: 'admin' },
          broadcasters: [{ name: 'alice', passwordHash: broadcasterHash, mounts: ['live'] }],
          mounts: { live: { renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }] } },
        }, { env: { ICEWIRE_ICECAST_SOURCE_PASSWORD: icecast.sourcePassword, ICEWIRE_ICECAST_ADMIN_PASSWORD: icecast.adminPassword } });
        const seen: DoctorCheck[] = [];
        const checks = await runDoctor(config, { configFile: 'test.yaml', env: {}, onCheck: (c) => seen.push(c) });
        assert.deepEqual(seen, checks, 'onCheck saw every check, in order');
        const login = checks.find((c) => /source login source@\/live\.ogg/.test(c.what));
        assert.deepEqual(login, { status: 'ok', what: 'Icecast source login source@/live.ogg: in use (someone is live); the password was accepted' });
        assert.equal(checks.filter((c) => c.status === 'FAIL').length, 0, JSON.stringify(checks));
        assert.ok(live.isLive, 'the live source was not disturbed');
        assert.deepEqual(await listMounts(icecast.url, icecast.adminPassword), ['/live.ogg']);
      } finally {
        await live.end();
      }
    });

    it('recordings under /var/lib/icewire before the service made it: a warning that systemd will (injected fs)', async function () {
      if (existsSync('/var/lib/icewire')) this.skip(); // an installed station on this machine
      let config;
      try {
        config = parseConfig({
          publicUrl: 'https://live.example.org',
          icecast: { url: icecast.url, sourcePassword: icecast.sourcePassword },
          broadcasters: [{ name: 'alice', passwordHash: broadcasterHash, mounts: ['live'] }],
          mounts: { live: { record: true, renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }] } },
        }, { env: {} });
      } catch (err) {
        if (err instanceof ConfigError && /record/.test(err.message)) this.skip(); // no recorder in this schema
        throw err;
      }
      const tried: string[] = [];
      const checks = await runDoctor(config, {
        env: {},
        deps: {
          // what the service user meets: nothing under /var/lib/icewire yet, /var/lib root's
          tryWrite: async (d) => {
            tried.push(d);
            throw Object.assign(new Error(d), { code: d.startsWith('/var/lib/icewire') ? 'ENOENT' : 'EACCES' });
          },
        },
      });
      assert.deepEqual(tried, ['/var/lib/icewire/recordings', '/var/lib/icewire', '/var/lib']);
      const rec = checks.find((c) => /recordings/.test(c.what));
      assert.equal(rec?.status, 'warn', JSON.stringify(rec));
      assert.match(rec.what, /\/var\/lib\/icewire does not exist yet; systemd creates it/);
      assert.equal(rec.fix, 'systemctl enable --now icewire, then run icewire doctor again');
      assert.equal(checks.filter((c) => c.status === 'FAIL').length, 0, JSON.stringify(checks));
    });

    it('knows what each rendition needs from ffmpeg', () => {
      const cfg = (renditions: { mount: string; format: string; bitrate?: number }[]): Parameters<typeof ffmpegNeeds>[0] =>
        ({ auth: { mode: 'accounts' }, mounts: { live: { public: false, renditions } } }) as unknown as Parameters<typeof ffmpegNeeds>[0];
      const names = (r: { mount: string; format: string; bitrate?: number }[]): string[] => ffmpegNeeds(cfg(r)).map((x) => `${x.kind} ${x.name}`);
      assert.deepEqual(names([{ mount: '/a.ogg', format: 'ogg-opus' }]), [], 'an Ogg/Opus copy runs no ffmpeg');
      assert.deepEqual(names([{ mount: '/a.ogg', format: 'ogg-opus', bitrate: 64 }]), ['encoder libopus', 'muxer ogg', 'demuxer ogg']);
      assert.deepEqual(names([{ mount: '/a.ogg', format: 'ogg-vorbis' }]), ['encoder libvorbis', 'muxer ogg', 'demuxer ogg']);
      assert.deepEqual(names([{ mount: '/a.mp3', format: 'mp3' }]), ['encoder libmp3lame', 'muxer mp3', 'demuxer ogg']);
      // a WebM mount copies a browser's Opus, but a Safari host's AAC (MP4) must be encoded to Opus
      assert.deepEqual(names([{ mount: '/a.webm', format: 'webm' }]), ['encoder libopus', 'muxer webm', 'demuxer matroska', 'demuxer ogg']);
      const both = ffmpegNeeds(cfg([{ mount: '/a.mp3', format: 'mp3' }, { mount: '/b.ogg', format: 'ogg-vorbis' }]));
      assert.deepEqual(both.find((x) => x.kind === 'demuxer' && x.name === 'ogg')?.usedBy, ['/a.mp3 (mp3)', '/b.ogg (ogg-vorbis)']);
    });

    it('reads ffmpeg\'s -encoders / -muxers / -demuxers tables', () => {
      const list = parseFfmpegList([
        'Encoders:', ' A..... = Audio', ' ------',
        ' A....D libmp3lame           libmp3lame MP3 (MPEG audio layer 3) (codec mp3)',
        ' A..... libopus              libopus Opus (codec opus)', '',
      ].join('\n'));
      assert.deepEqual([...list], ['libmp3lame', 'libopus']);
      assert.deepEqual([...parseFfmpegList('File formats:\n D. = Demuxing supported\n --\n D  matroska,webm   Matroska / WebM\n D  ogg             Ogg\n')], ['matroska', 'webm', 'ogg']);
      assert.deepEqual([...parseFfmpegList('no table here\n A libmp3lame x\n')], []);
    });
  });
});
