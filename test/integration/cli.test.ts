// The icewire command as an operator runs it: a real process, real signals, real exit codes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runIcewire, spawnDaemon } from '../helpers/daemon-process.js';
import { fixture } from '../helpers/media.js';
import { waitFor, waitForMount, waitForMountGone } from '../helpers/listener.js';
import { secret, snapshotPs } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';
import { startIcecast, type ManagedIcecast } from '../../server/icecast/managed-icecast.js';
import { hashPassword, verifyPassword } from '../../server/auth/password-hash.js';
import { PACKAGE_ROOT } from '../../server/paths.js';

describe('icewire CLI', function () {
  this.timeout(60000);

  it('check-config on a broken file exits 78 and names the key', async () => {
    const r = await runIcewire(['check-config', join(PACKAGE_ROOT, 'test', 'fixtures', 'broken-config.yaml')]);
    assert.equal(r.code, 78);
    assert.match(r.stderr, /mounts\.live\.renditions\.1\.format/);
  });

  it('check-config on the sample prints it resolved with secrets redacted', async () => {
    const pw = secret();
    const r = await runIcewire(['check-config', join(PACKAGE_ROOT, 'config.sample.yaml')], { env: { ICEWIRE_ICECAST_SOURCE_PASSWORD: pw, ICEWIRE_ICECAST_ADMIN_PASSWORD: secret() } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sourcePassword: "?\[redacted\]"?/);
    assert.ok(!r.stdout.includes(pw) && !r.stderr.includes(pw));
  });

  it('check-config on a missing file exits 78 with a hint', async () => {
    const r = await runIcewire(['check-config', '/nonexistent/icewire.yaml']);
    assert.equal(r.code, 78);
    assert.match(r.stderr, /cannot read the config file/);
  });

  it('hash-password reads stdin and prints a hash that verifies', async () => {
    const pw = secret();
    const r = await runIcewire(['hash-password'], { input: `${pw}\n` });
    assert.equal(r.code, 0, r.stderr);
    const hash = r.stdout.trim();
    assert.match(hash, /^scrypt\$/);
    assert.ok(await verifyPassword(pw, hash));
    assert.ok(!(await verifyPassword(`${pw}x`, hash)));
  });

  it('serve rejects a bad --listen with a usage error', async () => {
    const r = await runIcewire(['serve', '--listen', 'nonsense']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /HOST:PORT/);
  });

  describe('serve without a config file (passthrough) and SIGTERM', () => {
    let icecast: ManagedIcecast;
    before(async () => {
      icecast = await startIcecast({ sourcePassword: secret(), adminPassword: secret() });
    });
    after(async () => {
      await icecast.stop();
    });

    it('goes live, then on SIGTERM tells the broadcaster, ends the stream cleanly and exits 0 within 10 s', async () => {
      const daemon = await spawnDaemon({ args: ['serve', '--listen', '127.0.0.1:0', '--icecast', icecast.url], cwd: '/' });
      // an MP3 mount, so that an ffmpeg (the transcoder) is running when SIGTERM comes
      const c = new WebcastClient(`${daemon.wsBase}show.mp3`);
      await c.opened;
      c.hello({ mime: 'audio/webm;codecs=opus', user: 'source', password: icecast.sourcePassword });
      const streaming = c.stream(await fixture('audio-webm', 10), { seconds: 10, maxChunks: 12 });
      await c.live();
      await waitForMount(icecast.url, icecast.adminPassword, '/show.mp3');
      snapshotPs();
      const ffmpegPids = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(daemon.child.pid)], { encoding: 'utf8' })
        .split('\n').filter((l) => /ffmpeg/.test(l)).map((l) => Number(l.trim().split(/\s+/)[0]));
      assert.equal(ffmpegPids.length, 1, 'the daemon runs one ffmpeg');
      await streaming;
      const t0 = Date.now();
      const exited = daemon.stop('SIGTERM');
      const closed = await c.closed;
      assert.equal(closed.code, 1001);
      assert.equal(c.errors[0]?.code, 'IW_ERR_SHUTTING_DOWN');
      assert.equal(c.statuses.at(-1)?.state, 'ended');
      assert.equal(c.statuses.at(-1)?.reason, 'shutdown');
      const { code, at } = await exited;
      assert.equal(code, 0);
      assert.ok(at - t0 < 10000, `exited ${at - t0} ms after SIGTERM`);
      await waitForMountGone(icecast.url, icecast.adminPassword, '/show.mp3', 3000);
      const alive = ffmpegPids.filter((pid) => { try { process.kill(pid, 0); return true; } catch { return false; } });
      assert.deepEqual(alive, [], 'no ffmpeg outlives the daemon');
      assert.match(daemon.output(), /"reason":"shutdown"/);
    });
  });
});

describe('SIGHUP reloads the config without touching live broadcasts', function () {
  this.timeout(60000);
  let icecast: ManagedIcecast;
  before(async () => {
    icecast = await startIcecast({ sourcePassword: secret(), adminPassword: secret() });
  });
  after(async () => {
    await icecast?.stop();
  });

  it('adds a broadcaster and a mount; a broken file is refused and the old config kept', async () => {
    const alice = { name: 'alice', password: secret() };
    const carol = { name: 'carol', password: secret() };
    const base = {
      listen: { host: '127.0.0.1', port: 0 },
      icecast: { url: icecast.url },
      broadcasters: [{ name: alice.name, passwordHash: await hashPassword(alice.password), mounts: ['live'] }],
      mounts: { live: { renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }] } } as Record<string, unknown>,
    };
    const daemon = await spawnDaemon({ config: base, env: { ICEWIRE_ICECAST_SOURCE_PASSWORD: icecast.sourcePassword } });
    const file = daemon.configFile!;
    const { wsBase } = daemon;

    const live = new WebcastClient(`${wsBase}live`);
    await live.opened;
    live.hello({ mime: 'audio/webm;codecs=opus', user: alice.name, password: alice.password });
    const streaming = live.stream(await fixture('audio-webm', 10), { seconds: 10, maxChunks: 24 });
    await live.live();

    // carol is not there yet
    const before = new WebcastClient(`${wsBase}news`);
    await before.opened;
    before.hello({ mime: 'audio/webm;codecs=opus', user: carol.name, password: carol.password });
    assert.equal((await before.closed).code, 4401);

    writeFileSync(file, JSON.stringify({
      ...base,
      broadcasters: [...base.broadcasters, { name: carol.name, passwordHash: await hashPassword(carol.password), mounts: ['news'] }],
      mounts: { ...base.mounts, news: { renditions: [{ mount: '/news.ogg', format: 'ogg-opus' }] } },
    }));
    daemon.child.kill('SIGHUP');
    await waitFor('the reload', () => /config reloaded/.test(daemon.output()), 5000);
    const after = new WebcastClient(`${wsBase}news`);
    await after.opened;
    after.hello({ mime: 'audio/webm;codecs=opus', user: carol.name, password: carol.password });
    await after.live();
    after.close();

    writeFileSync(file, '{ "listen": { "port": "not a port" } }');
    daemon.child.kill('SIGHUP');
    await waitFor('the refusal', () => /config not reloaded/.test(daemon.output()), 5000);
    assert.match(daemon.output(), /listen\.port/);

    await streaming;
    assert.equal(live.ws.readyState, live.ws.OPEN, 'the live broadcast was never touched');
    assert.equal(live.errors.length, 0);
    live.close();
    await live.closed;
  });
});
