import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfigError, parseConfig, loadConfigFile, defaultConfig, redactedConfig, formatConfigError,
} from '../../server/config/load.js';
import { z } from 'zod';
import { configSchemas } from '../../server/config/schema.js';
import { redactString } from '../../server/log.js';

const { configSchema } = configSchemas(z);

// dist/test/unit/ -> repo root
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HASH = 'scrypt$16384$8$1$O+x7YFbx8v6WBJAgmTNiSw==$FrvQVbHl/ZrNRSLXJInGN0KAiAkLWEyyx3yt1KYIajI=';
const NO_ENV: NodeJS.ProcessEnv = {};

/** A minimal valid accounts-mode config; tests change one thing each. */
function accounts(): Record<string, any> {
  return {
    icecast: { url: 'http://127.0.0.1:8000', sourcePassword: 'icecast-source-secret' },
    broadcasters: [{ name: 'alice', passwordHash: HASH, mounts: ['live'] }],
    mounts: { live: { renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }, { mount: '/live.mp3', format: 'mp3', bitrate: 128 }] } },
  };
}

/** The ConfigError `fn` throws (fails the test if it throws anything else or nothing). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

function paths(err: ConfigError): string[] {
  return err.issues.map((i) => i.path);
}

describe('config', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'icewire-config-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('parseConfig validation', () => {
    it('accepts an empty object: passthrough with every default', () => {
      const c = parseConfig({}, { env: NO_ENV });
      assert.equal(c.auth.mode, 'passthrough');
      assert.deepEqual(c.listen, { host: '127.0.0.1', port: 8080 });
      assert.equal(c.icecast.url, 'http://127.0.0.1:8000');
      assert.equal(c.icecast.publicUrl, 'http://127.0.0.1:8000');
      assert.equal(c.icecast.sourceUser, 'source');
      assert.equal(c.icecast.sourcePassword, undefined);
      assert.equal(c.icecast.adminUser, undefined);
      assert.equal(c.limits.maxFrameBytes, 1048576);
      assert.equal(c.log.level, 'info');
      assert.deepEqual(c.broadcasters, []);
      assert.deepEqual(c.mounts, {});
    });

    it('names an unknown top-level key and suggests the right one', () => {
      const err = configError(() => parseConfig({ listn: { port: 1 } }, { env: NO_ENV }));
      assert.deepEqual(paths(err), ['listn']);
      assert.match(err.issues[0]!.message, /unknown key/);
      assert.match(err.issues[0]!.message, /listen/);
      assert.equal(err.code, 'IW_ERR_CONFIG_INVALID');
    });

    it('names unknown nested keys by their full path, one issue each', () => {
      const raw = accounts();
      raw.icecast.sourcePasswrodFile = '/x';
      raw.mounts.live.renditions[1].bitrat = 96;
      const err = configError(() => parseConfig(raw, { env: NO_ENV }));
      assert.deepEqual(paths(err).sort(), ['icecast.sourcePasswrodFile', 'mounts.live.renditions.1.bitrat']);
      const typo = err.issues.find((i) => i.path === 'icecast.sourcePasswrodFile')!;
      assert.match(typo.message, /did you mean sourcePasswordFile\?/);
    });

    it('suggests camelCase for snake_case keys', () => {
      const err = configError(() => parseConfig({ icecast: { source_user: 'x' } }, { env: NO_ENV }));
      assert.deepEqual(paths(err), ['icecast.source_user']);
      assert.match(err.issues[0]!.message, /did you mean sourceUser\?/);
    });

    it('reports wrong types with the path and the expected type', () => {
      const raw = accounts();
      raw.listen = { port: '8080' };
      raw.mounts.live.public = 'yes';
      raw.limits = { maxFrameBytes: 1.5 };
      const err = configError(() => parseConfig(raw, { env: NO_ENV }));
      const byPath = new Map(err.issues.map((i) => [i.path, i.message]));
      assert.match(byPath.get('listen.port') ?? '', /must be a number \(got text\)/);
      assert.match(byPath.get('mounts.live.public') ?? '', /true or false/);
      assert.match(byPath.get('limits.maxFrameBytes') ?? '', /whole number/);
    });

    it('reports out-of-range numbers with the bound', () => {
      const err = configError(() => parseConfig({ limits: { maxBroadcasts: 0 } }, { env: NO_ENV }));
      assert.deepEqual(paths(err), ['limits.maxBroadcasts']);
      assert.match(err.issues[0]!.message, /at least 1/);
    });

    it('rejects an unknown rendition format, listing the valid ones', () => {
      const raw = accounts();
      raw.mounts.live.renditions[0].format = 'flac';
      const err = configError(() => parseConfig(raw, { env: NO_ENV }));
      assert.deepEqual(paths(err), ['mounts.live.renditions.0.format']);
      assert.match(err.issues[0]!.message, /ogg-opus, ogg-vorbis, mp3, webm/);
      assert.match(err.issues[0]!.message, /flac/);
    });

    it('rejects a station mount without renditions and a bad Icecast mount path', () => {
      const raw = accounts();
      raw.mounts.other = { renditions: [] };
      raw.mounts.live.renditions[0].mount = 'live.ogg';
      const err = configError(() => parseConfig(raw, { env: NO_ENV }));
      assert.deepEqual(paths(err).sort(), ['mounts.live.renditions.0.mount', 'mounts.other.renditions']);
    });

    it('rejects an invalid station mount name', () => {
      const raw = accounts();
      raw.mounts['bad name'] = raw.mounts.live;
      const err = configError(() => parseConfig(raw, { env: NO_ENV }));
      assert.deepEqual(paths(err), ['mounts.bad name']);
      assert.match(err.issues[0]!.message, /letters, digits/);
    });

    it('rejects the same Icecast mount used twice', () => {
      const raw = accounts();
      raw.mounts.other = { renditions: [{ mount: '/live.ogg', format: 'webm' }] };
      const err = configError(() => parseConfig(raw, { env: NO_ENV }));
      assert.deepEqual(paths(err), ['mounts.other.renditions.0.mount']);
      assert.match(err.issues[0]!.message, /\/live\.ogg is already used by mounts\.live\.renditions\.0/);
    });

    it('rejects a broadcaster allowed on a station mount that does not exist', () => {
      const raw = accounts();
      raw.broadcasters[0].mounts = ['live', 'nope'];
      const err = configError(() => parseConfig(raw, { env: NO_ENV }));
      assert.deepEqual(paths(err), ['broadcasters.0.mounts.1']);
      assert.match(err.issues[0]!.message, /nope/);
    });

    it('does not mistake Object.prototype names for station mounts', () => {
      const raw = accounts();
      raw.broadcasters[0].mounts = ['constructor'];
      const err = configError(() => parseConfig(raw, { env: NO_ENV }));
      assert.deepEqual(paths(err), ['broadcasters.0.mounts.0']);
    });

    it('rejects a duplicate broadcaster name', () => {
      const raw = accounts();
      raw.broadcasters.push({ ...raw.broadcasters[0] });
      const err = configError(() => parseConfig(raw, { env: NO_ENV }));
      assert.deepEqual(paths(err), ['broadcasters.1.name']);
    });

    it('rejects a truncated password hash without echoing it', () => {
      const raw = accounts();
      raw.broadcasters[0].passwordHash = HASH.slice(0, 40);
      const err = configError(() => parseConfig(raw, { env: NO_ENV }));
      assert.deepEqual(paths(err), ['broadcasters.0.passwordHash']);
      assert.match(err.issues[0]!.message, /icewire hash-password/);
      assert.ok(!formatConfigError(err).includes(HASH.slice(17, 40)));
    });

    it('rejects credentials in a URL without echoing them', () => {
      const err = configError(() => parseConfig({ icecast: { url: 'http://source:topsecretpw@127.0.0.1:8000' } }, { env: NO_ENV }));
      assert.deepEqual(paths(err), ['icecast.url']);
      assert.ok(!err.message.includes('topsecretpw'));
      assert.ok(!formatConfigError(err).includes('topsecretpw'));
    });

    it('rejects a non-http URL', () => {
      const err = configError(() => parseConfig({ icecast: { url: 'ftp://example.org' } }, { env: NO_ENV }));
      assert.deepEqual(paths(err), ['icecast.url']);
      assert.match(err.issues[0]!.message, /http:\/\/ or https:\/\//);
    });

    it('rejects a non-object config', () => {
      const err = configError(() => parseConfig(['a'], { env: NO_ENV }));
      assert.deepEqual(paths(err), ['']);
    });

    it('trims trailing slashes from URLs and defaults icecast.publicUrl to icecast.url', () => {
      const c = parseConfig({ publicUrl: 'https://live.example.org/', icecast: { url: 'http://icecast.local:8000/' } }, { env: NO_ENV });
      assert.equal(c.publicUrl, 'https://live.example.org');
      assert.equal(c.icecast.url, 'http://icecast.local:8000');
      assert.equal(c.icecast.publicUrl, 'http://icecast.local:8000');
      const d = parseConfig({ icecast: { publicUrl: 'https://radio.example.org' } }, { env: NO_ENV });
      assert.equal(d.icecast.publicUrl, 'https://radio.example.org');
    });

    it('returns a deep-frozen config without *File keys', () => {
      const c = parseConfig(accounts(), { env: NO_ENV });
      assert.ok(Object.isFrozen(c));
      assert.ok(Object.isFrozen(c.icecast));
      assert.ok(Object.isFrozen(c.mounts.live!.renditions[0]));
      assert.ok(Object.isFrozen(c.broadcasters[0]!.mounts));
      assert.throws(() => { (c.listen as { port: number }).port = 1; }, TypeError);
      assert.ok(!('sourcePasswordFile' in c.icecast));
      // a second parse is unaffected by the first one's freezing (defaults are not shared)
      const d = parseConfig({}, { env: NO_ENV });
      assert.deepEqual(d.allowedOrigins, []);
    });
  });

  describe('auth mode', () => {
    it('defaults to accounts when a broadcaster is configured', () => {
      assert.equal(parseConfig(accounts(), { env: NO_ENV }).auth.mode, 'accounts');
    });

    it('defaults to passthrough without broadcasters, even with mounts', () => {
      const raw = accounts();
      delete raw.broadcasters;
      delete raw.icecast.sourcePassword;
      assert.equal(parseConfig(raw, { env: NO_ENV }).auth.mode, 'passthrough');
    });

    it('keeps an explicit mode', () => {
      const raw = accounts();
      raw.auth = { mode: 'accounts' };
      assert.equal(parseConfig(raw, { env: NO_ENV }).auth.mode, 'accounts');
    });

    it('rejects passthrough with broadcasters, and accounts without them', () => {
      const raw = accounts();
      raw.auth = { mode: 'passthrough' };
      assert.deepEqual(paths(configError(() => parseConfig(raw, { env: NO_ENV }))), ['auth.mode']);
      const none = { auth: { mode: 'accounts' }, icecast: { sourcePassword: 'x1234' } };
      assert.deepEqual(paths(configError(() => parseConfig(none, { env: NO_ENV }))), ['broadcasters']);
    });

    it('requires a source password in accounts mode', () => {
      const raw = accounts();
      delete raw.icecast.sourcePassword;
      const err = configError(() => parseConfig(raw, { env: NO_ENV }));
      assert.deepEqual(paths(err), ['icecast.sourcePassword']);
      assert.match(err.issues[0]!.message, /sourcePasswordFile/);
      assert.match(err.issues[0]!.message, /ICEWIRE_ICECAST_SOURCE_PASSWORD/);
    });
  });

  describe('secrets', () => {
    it('reads *File secrets relative to baseDir, trimming the trailing newline', () => {
      writeFileSync(join(dir, 'source-pw'), 'file-source-secret\n');
      writeFileSync(join(dir, 'admin-pw'), 'file-admin-secret\r\n');
      const raw = accounts();
      delete raw.icecast.sourcePassword;
      raw.icecast.sourcePasswordFile = 'source-pw';
      raw.icecast.adminPasswordFile = join(dir, 'admin-pw');
      const c = parseConfig(raw, { env: NO_ENV, baseDir: dir });
      assert.equal(c.icecast.sourcePassword, 'file-source-secret');
      assert.equal(c.icecast.adminPassword, 'file-admin-secret');
      assert.equal(c.icecast.adminUser, 'admin', 'adminUser defaults to admin when a password is given');
    });

    it('registers every secret for log redaction', () => {
      const raw = accounts();
      raw.icecast.sourcePassword = 'registered-source-secret';
      raw.icecast.adminPassword = 'registered-admin-secret';
      parseConfig(raw, { env: NO_ENV });
      assert.equal(redactString('pw=registered-source-secret'), 'pw=[redacted]');
      assert.equal(redactString('registered-admin-secret'), '[redacted]');
      assert.equal(redactString(HASH), '[redacted]');
    });

    it('reports a missing secret file at the *File key, naming the file', () => {
      const raw = accounts();
      delete raw.icecast.sourcePassword;
      raw.icecast.sourcePasswordFile = 'does-not-exist';
      const err = configError(() => parseConfig(raw, { env: NO_ENV, baseDir: dir }));
      assert.deepEqual(paths(err), ['icecast.sourcePasswordFile'], 'no second "password missing" issue');
      assert.match(err.issues[0]!.message, /does-not-exist: no such file/);
    });

    it('reports an empty secret file, and a directory', () => {
      writeFileSync(join(dir, 'empty'), '\n');
      const raw = { icecast: { sourcePasswordFile: 'empty', adminPasswordFile: '.' } };
      const err = configError(() => parseConfig(raw, { env: NO_ENV, baseDir: dir }));
      const byPath = new Map(err.issues.map((i) => [i.path, i.message]));
      assert.match(byPath.get('icecast.sourcePasswordFile') ?? '', /is empty/);
      assert.match(byPath.get('icecast.adminPasswordFile') ?? '', /directory/);
    });

    it('refuses an oversized secret file without echoing its contents', () => {
      writeFileSync(join(dir, 'big'), 'x'.repeat(10000));
      const err = configError(() => parseConfig({ icecast: { sourcePasswordFile: 'big' } }, { env: NO_ENV, baseDir: dir }));
      assert.deepEqual(paths(err), ['icecast.sourcePasswordFile']);
      assert.match(err.issues[0]!.message, /larger than/);
      assert.ok(!err.message.includes('xxxx'));
    });

    it('rejects both an inline password and a file', () => {
      const raw = accounts();
      raw.icecast.sourcePasswordFile = 'x';
      assert.deepEqual(paths(configError(() => parseConfig(raw, { env: NO_ENV }))), ['icecast.sourcePasswordFile']);
    });

    it('lets the environment override the inline value and the file (which is then not read)', () => {
      const raw = accounts();
      assert.equal(parseConfig(raw, { env: { ICEWIRE_ICECAST_SOURCE_PASSWORD: 'env-secret' } }).icecast.sourcePassword, 'env-secret');
      delete raw.icecast.sourcePassword;
      raw.icecast.sourcePasswordFile = 'missing-file';
      raw.icecast.adminPasswordFile = 'missing-too';
      const c = parseConfig(raw, {
        env: { ICEWIRE_ICECAST_SOURCE_PASSWORD: 'env-secret', ICEWIRE_ICECAST_ADMIN_PASSWORD: 'env-admin' }, baseDir: dir,
      });
      assert.equal(c.icecast.sourcePassword, 'env-secret');
      assert.equal(c.icecast.adminPassword, 'env-admin');
    });

    it('ignores an empty environment variable', () => {
      const c = parseConfig(accounts(), { env: { ICEWIRE_ICECAST_SOURCE_PASSWORD: '' } });
      assert.equal(c.icecast.sourcePassword, 'icecast-source-secret');
    });

    it('satisfies accounts mode from the environment alone', () => {
      const raw = accounts();
      delete raw.icecast.sourcePassword;
      const c = parseConfig(raw, { env: { ICEWIRE_ICECAST_SOURCE_PASSWORD: 'env-only' } });
      assert.equal(c.icecast.sourcePassword, 'env-only');
    });

    it('rejects adminUser without an admin password', () => {
      const raw = accounts();
      raw.icecast.adminUser = 'admin';
      assert.deepEqual(paths(configError(() => parseConfig(raw, { env: NO_ENV }))), ['icecast.adminPassword']);
    });
  });

  describe('redactedConfig', () => {
    it('replaces every secret and keeps everything else', () => {
      const raw = accounts();
      raw.icecast.adminPassword = 'admin-secret-value';
      const c = parseConfig(raw, { env: NO_ENV });
      const json = JSON.stringify(redactedConfig(c));
      for (const secret of ['icecast-source-secret', 'admin-secret-value', HASH, HASH.split('$')[5]!]) {
        assert.ok(!json.includes(secret), `${secret} leaked`);
      }
      const r = redactedConfig(c) as any;
      assert.equal(r.icecast.sourcePassword, '[redacted]');
      assert.equal(r.icecast.adminPassword, '[redacted]');
      assert.equal(r.broadcasters[0].passwordHash, '[redacted]');
      assert.equal(r.broadcasters[0].name, 'alice');
      assert.equal(r.mounts.live.renditions[1].bitrate, 128);
      assert.ok(!Object.isFrozen(r), 'a plain copy');
    });
  });

  describe('loadConfigFile', () => {
    it('loads YAML and resolves *File paths relative to the file', () => {
      writeFileSync(join(dir, 'pw'), 'yaml-file-secret\n');
      writeFileSync(join(dir, 'c.yaml'), [
        'icecast:',
        '  sourcePasswordFile: pw',
        'broadcasters:',
        `  - { name: alice, passwordHash: "${HASH}", mounts: [live] }`,
        'mounts:',
        '  live:',
        '    renditions: [{ mount: /live.ogg, format: ogg-opus }]',
      ].join('\n'));
      const c = loadConfigFile(join(dir, 'c.yaml'), NO_ENV);
      assert.equal(c.icecast.sourcePassword, 'yaml-file-secret');
      assert.equal(c.auth.mode, 'accounts');
    });

    it('treats an empty file as all defaults', () => {
      writeFileSync(join(dir, 'empty.yaml'), '# nothing here\n');
      assert.equal(loadConfigFile(join(dir, 'empty.yaml'), NO_ENV).auth.mode, 'passthrough');
    });

    it('turns a YAML syntax error into a ConfigError with line and column, not the source line', () => {
      const file = join(dir, 'bad.yaml');
      writeFileSync(file, 'icecast:\n  url: http://127.0.0.1:8000\n  sourcePassword: "unterminated-secret\n');
      const err = configError(() => loadConfigFile(file, NO_ENV));
      assert.equal(err.file, file);
      assert.ok(err.issues.length >= 1);
      assert.equal(err.issues[0]!.path, '');
      // an unterminated quote is only noticed where the input ends
      const line = err.issues[0]!.line!;
      assert.ok(line >= 3, `line ${line}`);
      assert.match(err.issues[0]!.message, new RegExp(`YAML syntax error at line ${line}, column \\d+: `));
      assert.ok(!formatConfigError(err).includes('unterminated-secret'));
    });

    it('rejects duplicate YAML keys', () => {
      const file = join(dir, 'dup.yaml');
      writeFileSync(file, 'listen: { port: 1 }\nlisten: { port: 2 }\n');
      const err = configError(() => loadConfigFile(file, NO_ENV));
      assert.match(err.issues[0]!.message, /line 2/);
    });

    it('gives validation errors the line of the key', () => {
      const file = join(dir, 'v.yaml');
      writeFileSync(file, 'listen:\n  host: 0.0.0.0\n  prot: 80\n');
      const err = configError(() => loadConfigFile(file, NO_ENV));
      assert.deepEqual(paths(err), ['listen.prot']);
      assert.equal(err.issues[0]!.line, 3);
      assert.equal(formatConfigError(err, 'v.yaml'), 'v.yaml: listen.prot: unknown key (did you mean port?) (line 3)');
    });

    it('says clearly that the file is missing', () => {
      const file = join(dir, 'nope.yaml');
      const err = configError(() => loadConfigFile(file, NO_ENV));
      assert.match(err.issues[0]!.message, /cannot read the config file .*nope\.yaml: no such file/);
      assert.match(err.issues[0]!.message, /passthrough/);
    });

    it('loads config.sample.yaml (secrets from the environment)', () => {
      const c = loadConfigFile(join(ROOT, 'config.sample.yaml'), {
        ICEWIRE_ICECAST_SOURCE_PASSWORD: 'sample-source', ICEWIRE_ICECAST_ADMIN_PASSWORD: 'sample-admin',
      });
      assert.equal(c.auth.mode, 'accounts');
      assert.equal(c.icecast.sourcePassword, 'sample-source');
      assert.deepEqual(c.mounts.live!.renditions.map((r) => [r.mount, r.format]), [['/live.ogg', 'ogg-opus'], ['/live.mp3', 'mp3']]);
      assert.equal(c.broadcasters[0]!.name, 'alice');
    });

    it('reports exactly the one broken key in test/fixtures/broken-config.yaml', () => {
      const file = join(ROOT, 'test/fixtures/broken-config.yaml');
      const err = configError(() => loadConfigFile(file, NO_ENV));
      assert.deepEqual(paths(err), ['mounts.live.renditions.1.format']);
      assert.match(formatConfigError(err), /broken-config\.yaml: mounts\.live\.renditions\.1\.format: /);
    });
  });

  describe('defaultConfig', () => {
    it('is passthrough against a local Icecast', () => {
      const c = defaultConfig({}, NO_ENV);
      assert.equal(c.auth.mode, 'passthrough');
      assert.equal(c.icecast.url, 'http://127.0.0.1:8000');
      assert.deepEqual(c.listen, { host: '127.0.0.1', port: 8080 });
      assert.ok(Object.isFrozen(c));
    });

    it('takes overrides and env secrets', () => {
      const c = defaultConfig({ icecastUrl: 'http://10.0.0.5:8001', listen: { host: '0.0.0.0', port: 0 } }, { ICEWIRE_ICECAST_ADMIN_PASSWORD: 'env-admin-pw' });
      assert.equal(c.icecast.url, 'http://10.0.0.5:8001');
      assert.equal(c.icecast.publicUrl, 'http://10.0.0.5:8001');
      assert.deepEqual(c.listen, { host: '0.0.0.0', port: 0 });
      assert.equal(c.icecast.adminPassword, 'env-admin-pw');
    });

    it('rejects a bad Icecast URL as a ConfigError', () => {
      assert.deepEqual(paths(configError(() => defaultConfig({ icecastUrl: 'localhost:8000' }, NO_ENV))), ['icecast.url']);
    });
  });

  describe('formatConfigError', () => {
    it('prints one line per issue: file, path, message', () => {
      const err = new ConfigError([
        { path: 'a.b', message: 'is wrong' },
        { path: '', message: 'whole-file problem' },
      ]);
      assert.equal(formatConfigError(err, 'x.yaml'), 'x.yaml: a.b: is wrong\nx.yaml: whole-file problem');
      assert.equal(formatConfigError(err), 'a.b: is wrong\nwhole-file problem');
    });
  });

  describe('documentation', () => {
    // Every key the schema knows, by its last segment, must appear in the sample and the reference.
    function schemaKeys(schema: unknown, out = new Set<string>()): Set<string> {
      const def = (schema as { _zod: { def: any } })._zod.def;
      switch (def.type) {
        case 'optional': case 'default': case 'prefault': case 'nullable': return schemaKeys(def.innerType, out);
        case 'pipe': return schemaKeys(def.in, out);
        case 'array': return schemaKeys(def.element, out);
        case 'record': return schemaKeys(def.valueType, out);
        case 'object':
          for (const [k, v] of Object.entries(def.shape as Record<string, unknown>)) {
            out.add(k);
            schemaKeys(v, out);
          }
          return out;
        default: return out;
      }
    }
    const keys = [...schemaKeys(configSchema)];

    it('config.sample.yaml mentions every key', () => {
      const sample = readFileSync(join(ROOT, 'config.sample.yaml'), 'utf8');
      const missing = keys.filter((k) => !new RegExp(`(^|[\\s{,#])${k}:`, 'm').test(sample));
      assert.deepEqual(missing, []);
    });

    it('docs/configuration.md documents every key', () => {
      const doc = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
      const missing = keys.filter((k) => !doc.includes(`\`${k}\``) && !new RegExp(`\\.${k}\``).test(doc));
      assert.deepEqual(missing, []);
    });
  });
});
