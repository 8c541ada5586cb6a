// The files docs/scaling.md tells an operator to install, checked by the tools that will read
// them: nginx -t on the shipped cluster config, systemd-analyze on the fallback unit, Liquidsoap
// on the fallback script's refusals, and the Icecast XML in the guide being exactly what the
// tested Icecasts run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mountSectionsXml, relaySectionsXml } from '../../server/icecast/managed-icecast.js';
import { PACKAGE_ROOT } from '../../server/paths.js';
import { docFencedBlocks } from '../ops/deploy-doc.js';
import { assertNginxTestOk, NginxDir } from '../ops/nginx-dir.js';

interface Run { code: number; out: string }

async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(cmd, args, { env: { ...process.env, SYSTEMD_COLORS: '0', ...env } });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const SCRIPT = join(PACKAGE_ROOT, 'icecast', 'fallback.liq');
const UNIT = join(PACKAGE_ROOT, 'icecast', 'icewire-fallback.service');

describe('cluster files (docs/scaling.md)', function () {
  this.timeout(60000);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'icewire-cluster-files-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('nginx -t accepts nginx/icewire-cluster.conf with only the certificate paths changed', async () => {
    const n = new NginxDir();
    try {
      await n.makeCertificate(['live.example.org', 'radio.example.org']);
      writeFileSync(n.site, n.withCert(readFileSync(join(PACKAGE_ROOT, 'nginx', 'icewire-cluster.conf'), 'utf8'))
        .replace('/var/log/nginx/icewire-cluster.log', join(n.dir, 'cluster.log')));
      assertNginxTestOk(await n.test(), n.conf);
    } finally {
      n.remove();
    }
  });

  it('the guide\'s Icecast XML is what the tested master and relay run', () => {
    const xml = docFencedBlocks('scaling.md', 'xml');
    assert.equal(xml.length, 2, 'a master block and a relay block');
    assert.equal(xml[0], mountSectionsXml({
      '/live.ogg': { fallbackMount: '/fallback/live.ogg' }, '/live.mp3': { fallbackMount: '/fallback/live.mp3' },
    }));
    assert.equal(xml[1], relaySectionsXml({ masterUrl: 'http://10.0.0.5:8000', mounts: ['/live.ogg'] }));
  });

  it('systemd-analyze verify is clean on icecast/icewire-fallback.service, and its sandbox rates at most 1.5', async () => {
    const v = await run('systemd-analyze', ['verify', UNIT]);
    assert.equal(v.code, 0, v.out);
    assert.equal(v.out.trim(), '');
    const s = await run('systemd-analyze', ['security', '--offline=true', UNIT]);
    const m = /Overall exposure level for icewire-fallback\.service: (\d+(?:\.\d+)?)/.exec(s.out);
    assert.ok(m, s.out);
    assert.ok(Number(m[1]) <= 1.5, `exposure ${m[1]}:\n${s.out}`);
  });

  it('icecast/fallback.liq stops at start, exit 78, naming what is wrong', async () => {
    const pw = join(dir, 'pw');
    writeFileSync(pw, 'not-a-real-password\n', { mode: 0o600 });
    const rootOk = userInfo().uid === 0 ? ['settings.init.allow_root.set(true)'] : [];
    const cases: [string, string, RegExp][] = [
      ['missing file', `/fallback/live.ogg ${join(dir, 'nope.ogg')}\n`, /the file for \/fallback\/live\.ogg, .*nope\.ogg, does not exist/],
      ['bad line', '# comment\n\nlive.ogg\n', /cannot read the line "live\.ogg" \(want: <fallback mount> <file>\)/],
    ];
    for (const [what, list, expect] of cases) {
      const file = join(dir, `${what.replace(' ', '-')}.list`);
      writeFileSync(file, list);
      const r = await run('liquidsoap', ['--check', ...rootOk, SCRIPT], { ICEWIRE_FALLBACK_LIST: file, ICEWIRE_FALLBACK_PASSWORD_FILE: pw });
      assert.equal(r.code, 78, `${what}: ${r.out}`);
      assert.match(r.out, expect, what);
    }
  });
});
