// A newcomer's station config passes: the README's "Running it for a station" commands, run as
// written (only the paths moved into a temp dir, and `icewire` being this checkout's CLI), turn
// config.sample.yaml into a config `icewire check-config` accepts. And when a secret file the
// config names is missing, check-config's message carries a command that creates it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../../server/paths.js';

const run = promisify(execFile);
const CLI = `node ${join(PACKAGE_ROOT, 'dist', 'server', 'main.js')}`;
const DEBIAN_ICECAST_XML = '/etc/icecast2/icecast.xml';

/** The first ```sh block under a README heading, as its command lines. */
function readmeCommands(heading: string): string[] {
  const text = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
  const at = text.indexOf(`\n## ${heading}\n`);
  assert.ok(at >= 0, `README has "## ${heading}"`);
  const block = /```sh\n([\s\S]*?)```/.exec(text.slice(at))?.[1];
  assert.ok(block !== undefined, `a sh block under "## ${heading}"`);
  return block.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

interface Result { code: number; stdout: string; stderr: string }

async function sh(line: string): Promise<Result> {
  try {
    const { stdout, stderr } = await run('sh', ['-ec', line], { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('a newcomer following README → "Running it for a station"', () => {
  let dir: string;
  let etc: string;
  let icecastXml: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'icewire-newcomer-'));
    etc = join(dir, 'etc-icewire');
    icecastXml = join(dir, 'icecast.xml');
    // Debian's own icecast.xml when the package is installed (the CI machine has it), else one like it
    if (existsSync(DEBIAN_ICECAST_XML)) copyFileSync(DEBIAN_ICECAST_XML, icecastXml);
    else writeFileSync(icecastXml, '<icecast>\n  <authentication>\n    <source-password>hackme</source-password>\n    <admin-user>admin</admin-user>\n    <admin-password>hackme</admin-password>\n  </authentication>\n</icecast>\n');
  });
  after(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** A README line with the test's paths: /etc/icewire -> the temp dir, the installed package -> this checkout. */
  const local = (line: string): string => line
    .split('/etc/icewire').join(etc)
    .split('/etc/icecast2/icecast.xml').join(icecastXml)
    .split('"$(npm root -g)/icewire/').join(`"${PACKAGE_ROOT}/`)
    .replace(/(^|[|;&]\s*)icewire /g, `$1${CLI} `);

  it('the commands as written end in a passing `icewire check-config`', async () => {
    const lines = readmeCommands('Running it for a station');
    assert.match(lines.at(-1)!, /^icewire check-config \/etc\/icewire\/icewire\.yaml$/, 'the block ends by checking the config');
    for (const line of lines) {
      const r = await sh(local(line));
      if (line.startsWith('cp ')) {
        // the copied sample names /etc/icewire/… for its password files: the test's live elsewhere
        const yaml = join(etc, 'icewire.yaml');
        writeFileSync(yaml, readFileSync(yaml, 'utf8').split('/etc/icewire/').join(`${etc}/`));
      }
      assert.equal(r.code, 0, `${line}\n${r.stdout}${r.stderr}`);
      if (line.includes('check-config')) assert.match(r.stderr, /OK \(auth mode accounts, 1 station mount\(s\), 1 broadcaster\(s\)\)/);
    }
    // the password files hold Icecast's passwords, and nobody else may read them
    const xml = readFileSync(icecastXml, 'utf8');
    assert.equal(readFileSync(join(etc, 'icecast-source-password'), 'utf8').trim(), /<source-password>(.*)<\/source-password>/.exec(xml)![1]);
    assert.equal(readFileSync(join(etc, 'icecast-admin-password'), 'utf8').trim(), /<admin-password>(.*)<\/admin-password>/.exec(xml)![1]);
  });

  it('a missing password file: check-config names it and gives the command that creates it, which works', async () => {
    const conf = join(dir, 'fresh');
    await sh(`mkdir -p ${conf}`);
    const sample = readFileSync(join(PACKAGE_ROOT, 'config.sample.yaml'), 'utf8').split('/etc/icewire/').join(`${conf}/`);
    writeFileSync(join(conf, 'icewire.yaml'), sample);
    const first = await sh(`${CLI} check-config ${conf}/icewire.yaml`);
    assert.equal(first.code, 78);
    const hints = [...first.stderr.matchAll(/no such file\. Create it with .*?: (sed -n .*? \/dev\/stdin \S+)/g)].map((m) => m[1]!);
    assert.equal(hints.length, 2, first.stderr);
    assert.match(first.stderr, /icecast\.sourcePasswordFile: cannot read .*icecast-source-password: no such file\. Create it with Icecast's <source-password>/);
    // the sample's own comments give the same commands
    for (const h of hints) assert.ok(sample.includes(h.replace(/ \S+$/, '')), `config.sample.yaml shows: ${h}`);
    for (const h of hints) {
      const r = await sh(h.split('/etc/icecast2/icecast.xml').join(icecastXml));
      assert.equal(r.code, 0, r.stderr);
    }
    const second = await sh(`${CLI} check-config ${conf}/icewire.yaml`);
    assert.equal(second.code, 0, second.stderr);
  });
});
