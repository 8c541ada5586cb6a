// The shipped systemd unit: systemd's own sandbox rating, and `systemd-analyze verify` on it and
// on the drop-ins docs/deploy.md tells operators to write. Needs `systemd-analyze` (Debian's
// systemd package; .ci/run installs it); no running systemd is needed, both work offline.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../../server/paths.js';
import { deployCommands, substitute } from './deploy-doc.js';

const UNIT = join(PACKAGE_ROOT, 'systemd', 'icewire.service');
const MAIN = join(PACKAGE_ROOT, 'dist', 'server', 'main.js');
const INSTALLED_BIN = '/usr/local/bin/icewire';

interface Run { code: number; stdout: string; stderr: string }

async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(cmd, args, { env: { ...process.env, SYSTEMD_COLORS: '0', ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err; // could not run it at all (ENOENT: install systemd)
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('systemd unit (systemd/icewire.service)', function () {
  this.timeout(20000);
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'icewire-systemd-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('systemd-analyze security --offline rates its exposure at most 2.0', async () => {
    const r = await run('systemd-analyze', ['security', '--offline=true', UNIT]);
    assert.equal(r.code, 0, r.stderr);
    const m = /Overall exposure level for icewire\.service: (\d+(?:\.\d+)?) (\S+)/.exec(r.stdout);
    assert.ok(m, `no overall exposure line in:\n${r.stdout}`);
    const exposure = Number(m[1]);
    assert.ok(exposure <= 2.0, `exposure ${exposure} ${m[2]} (want <= 2.0):\n${r.stdout}`);
    // the items that matter most, named so a regression says which one broke
    for (const item of ['User=/DynamicUser=', 'NoNewPrivileges=', 'PrivateUsers=', 'CapabilityBoundingSet=~CAP_SYS_ADMIN', 'RestrictAddressFamilies=~AF_PACKET', 'ProtectSystem=', 'SystemCallFilter=~@privileged']) {
      const row = r.stdout.split('\n').find((l) => l.slice(2).startsWith(`${item} `));
      assert.ok(row?.startsWith('✓'), `${item} passes: ${row ?? '(no row)'}`);
    }
  });

  it('systemd-analyze verify: the shipped file is clean but for the installed binary', async () => {
    const r = await run('systemd-analyze', ['verify', UNIT]);
    const out = (r.stdout + r.stderr).trim();
    if (existsSync(INSTALLED_BIN)) {
      assert.equal(r.code, 0, out);
      assert.equal(out, '');
    } else {
      // ExecStart names where `npm install -g --prefix /usr/local icewire` puts the CLI
      // (docs/deploy.md step 3); on a test machine nothing is installed there, and that must be
      // the only thing verify has to say.
      assert.equal(out, `icewire.service: Command ${INSTALLED_BIN} is not executable: No such file or directory`);
    }
  });

  it('systemd-analyze verify is clean with deploy.md\'s drop-ins (this checkout run by node; a remote Icecast)', async () => {
    // The unit file is unchanged; docs/deploy.md's own printf lines write the drop-ins (into a
    // temp dir instead of /etc/systemd/system, and this checkout instead of /opt/icewire), the way
    // the unit's comments say to run from a checkout. SYSTEMD_UNIT_PATH makes verify read them.
    const unitDir = join(dir, 'system');
    mkdirSync(unitDir);
    const lines = deployCommands(/icewire\.service\.d/).filter((l) => /^(mkdir|printf) /.test(l));
    assert.ok(lines.some((l) => l.includes('checkout.conf')) && lines.some((l) => l.includes('remote-icecast.conf')), lines.join('\n'));
    const script = lines.map((l) => substitute(l, [
      ['/etc/systemd/system', unitDir], ['/opt/icewire/', `${PACKAGE_ROOT.replace(/\/$/, '')}/`], ['/usr/bin/node ', `${process.execPath} `],
    ])).join('\n');
    const w = await run('sh', ['-ec', script]);
    assert.equal(w.code, 0, w.stderr);
    await run('cp', [UNIT, join(unitDir, 'icewire.service')]);
    const r = await run('systemd-analyze', ['verify', join(unitDir, 'icewire.service')], { SYSTEMD_UNIT_PATH: `${unitDir}:` });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((r.stdout + r.stderr).trim(), '');
    // and verify really reads drop-ins from there: one more that points ExecStart nowhere fails
    await run('sh', ['-ec', `printf '[Service]\\nExecStart=\\nExecStart=/nonexistent/node ${MAIN} serve\\n' > ${join(unitDir, 'icewire.service.d', 'zz-broken.conf')}`]);
    const broken = await run('systemd-analyze', ['verify', join(unitDir, 'icewire.service')], { SYSTEMD_UNIT_PATH: `${unitDir}:` });
    assert.notEqual(broken.code, 0);
    assert.match(broken.stdout + broken.stderr, /Command \/nonexistent\/node is not executable/);
  });
});
