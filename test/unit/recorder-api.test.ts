// The recordings API on a real express app and a real directory: login, sessions, ownership, and
// path traversal (raw request paths over a socket, so nothing normalises them on the way).
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import request from 'supertest';
import winston from 'winston';
import { parseConfig } from '../../server/config/load.js';
import type { Config } from '../../server/config/schema.js';
import { AuthGate } from '../../server/auth/auth-gate.js';
import { BroadcastRegistry } from '../../server/broadcast/registry.js';
import { createApp } from '../../server/http/app.js';
import { loginRefusedEarly, SESSION_TTL_MS, SessionStore } from '../../server/http/recordings-routes.js';
import { hashPassword } from '../../server/auth/password-hash.js';
import { createLogger } from '../../server/log.js';
import { resolveRecording } from '../../server/recorder/recording-index.js';
import { RecordingLedger } from '../../server/recorder/recording-ledger.js';
import { failureMessage } from '../../server/recorder/recording-names.js';

// quiet, but with a transport (winston complains without one)
const logger = createLogger({ console: false, transports: [new winston.transports.Stream({ stream: new Writable({ write: (_c, _e, cb) => cb() }) })] });
const ALICE = { name: 'alice', password: 'alice-password-1' };
const BOB = { name: 'bob', password: 'bob-password-22' };
const SECRET = 'TOP-SECRET-OUTSIDE-THE-RECORDINGS-DIR';
const OWN = '2026-11-21T14-30-05Z.ogg';

async function rawConfig(extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  return {
    icecast: { url: 'http://127.0.0.1:8000', sourcePassword: 'hackme-source' },
    broadcasters: [
      { name: ALICE.name, passwordHash: await hashPassword(ALICE.password), mounts: ['live'] },
      { name: BOB.name, passwordHash: await hashPassword(BOB.password), mounts: ['other'] },
    ],
    mounts: { live: { renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }], record: true }, other: { renditions: [{ mount: '/other.ogg', format: 'ogg-opus' }] } },
    ...extra,
  };
}

function sidecar(path: string, user: string, stationMount = 'live'): void {
  writeFileSync(`${path}.json`, JSON.stringify({ user, stationMount, startedAt: '2026-11-21T14:30:05.000Z', endedAt: '2026-11-21T15:00:00.000Z', bytes: 1, format: path.endsWith('.webm') ? 'webm' : 'ogg-opus' }));
}

/** A recordings dir with alice's and bob's shows, and traps pointing outside it. */
function makeDir(): { dir: string; own: Buffer; outside: string } {
  const dir = mkdtempSync(join(tmpdir(), 'icewire-api-'));
  mkdirSync(join(dir, 'live'));
  mkdirSync(join(dir, 'other'));
  const own = Buffer.from(`OggS alice's show ${'x'.repeat(5000)}`);
  writeFileSync(join(dir, 'live', OWN), own);
  sidecar(join(dir, 'live', OWN), 'alice');
  writeFileSync(join(dir, 'live', '2026-11-22T10-00-00Z.webm'), 'webm of alice');
  sidecar(join(dir, 'live', '2026-11-22T10-00-00Z.webm'), 'alice');
  writeFileSync(join(dir, 'other', '2026-11-21T15-00-00Z.ogg'), 'bob\'s show');
  sidecar(join(dir, 'other', '2026-11-21T15-00-00Z.ogg'), 'bob', 'other');
  writeFileSync(join(dir, 'live', '2026-11-21T16-00-00Z.ogg'), 'no sidecar: nobody\'s');
  // outside the dir: a file with a sidecar that claims alice owns it
  const outside = mkdtempSync(join(tmpdir(), 'icewire-outside-'));
  writeFileSync(join(outside, OWN), SECRET);
  sidecar(join(outside, OWN), 'alice');
  writeFileSync(join(outside, 'passwd'), SECRET);
  symlinkSync(outside, join(dir, 'linked'));
  symlinkSync(join(outside, OWN), join(dir, 'live', '2026-11-21T17-00-00Z.ogg'));
  sidecar(join(dir, 'live', '2026-11-21T17-00-00Z.ogg'), 'alice');
  return { dir, own, outside };
}

/** The daemon's login gate over the config's accounts (as the daemon builds it). */
function gateFor(config: () => Config, now?: () => number): AuthGate {
  return new AuthGate({ accounts: () => config().broadcasters, limits: config().limits, logger, ...(now !== undefined ? { now } : {}) });
}

function appFor(config: Config, dir: string, now: () => number) {
  return createApp({
    config: () => config, registry: new BroadcastRegistry({ maxBroadcasts: 5, logger }), stats: undefined, logger,
    recordings: { config: () => config, dir, logger, now, auth: gateFor(() => config, now) },
  });
}

interface RawResponse { status: number; body: string; type: string | undefined }
function rawGet(port: number, path: string, token: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', headers: { Authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1'), type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('recordings API', function () {
  this.timeout(20000);
  let config: Config;
  let dir: string;
  let own: Buffer;
  let now = Date.parse('2026-11-21T16:00:00Z');
  let app: ReturnType<typeof createApp>;

  before(async () => {
    config = parseConfig(await rawConfig(), { env: {} });
    ({ dir, own } = makeDir());
    app = appFor(config, dir, () => now);
  });

  async function login(who: { name: string; password: string }, a = app): Promise<string> {
    const res = await request(a).post('/api/login').send({ user: who.name, password: who.password }).expect(200);
    assert.match(res.body.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(res.body.expiresAt, new Date(now + SESSION_TTL_MS).toISOString());
    assert.equal(res.headers['cache-control'], 'no-store');
    return res.body.token as string;
  }

  it('POST /api/login: a wrong password, an unknown user, a malformed body', async () => {
    for (const body of [{ user: 'alice', password: 'wrong' }, { user: 'mallory', password: 'x' }]) {
      const res = await request(app).post('/api/login').send(body).expect(401);
      assert.deepEqual(Object.keys(res.body.error).sort(), ['code', 'message']);
      assert.equal(res.body.error.code, 'IW_ERR_AUTH_FAILED');
    }
    for (const [type, body] of [['application/json', '{"user": "alice"'], ['application/json', '{"user": 1, "password": 2}'], ['text/plain', 'user=alice'], ['application/json', JSON.stringify({ user: 'a', password: 'x'.repeat(10000) })]] as const) {
      const res = await request(app).post('/api/login').set('Content-Type', type).send(body).expect(400);
      assert.equal(res.body.error.code, 'IW_ERR_HTTP_BAD_REQUEST', body.slice(0, 30));
    }
  });

  it('failed logins are rate-limited per address', async () => {
    const c = parseConfig(await rawConfig({ limits: { maxFailedLogins: 3 } }), { env: {} });
    const a = appFor(c, dir, () => now);
    for (let i = 0; i < 3; i++) await request(a).post('/api/login').send({ user: 'alice', password: 'nope' }).expect(401);
    const res = await request(a).post('/api/login').send({ user: ALICE.name, password: ALICE.password }).expect(429);
    assert.equal(res.body.error.code, 'IW_ERR_AUTH_RATE_LIMITED');
    // an error answer: when to try again, never an ETag (it is not revalidated)
    assert.match(String(res.headers['retry-after']), /^\d+$/);
    assert.equal(res.headers.etag, undefined);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal((await request(a).get('/no/such/page').expect(404)).headers.etag, undefined);
  });

  it('the daemon refuses a login from an address over its limit before express: the same answer, its body never parsed', async () => {
    const c = parseConfig(await rawConfig({ limits: { maxFailedLogins: 2 } }), { env: {} });
    const gate = gateFor(() => c, () => now);
    const a = createApp({
      config: () => c, registry: new BroadcastRegistry({ maxBroadcasts: 5, logger }), stats: undefined, logger,
      recordings: { config: () => c, dir, logger, now: () => now, auth: gate },
    });
    for (let i = 0; i < 2; i++) await request(a).post('/api/login').send({ user: 'alice', password: 'nope' }).expect(401);
    // the daemon's order: loginRefusedEarly() first, express only when it did not answer
    let reachedExpress = 0;
    const front = (req: IncomingMessage, res: ServerResponse): void => {
      if (!loginRefusedEarly({ config: () => c, auth: gate }, req, res)) { reachedExpress++; a(req, res); }
    };
    // not even JSON: no parser looks at it
    const res = await request(front).post('/api/login').set('Content-Type', 'application/json').send('{"user": broken').expect(429);
    assert.equal(res.body.error.code, 'IW_ERR_AUTH_RATE_LIMITED');
    assert.match(String(res.headers['retry-after']), /^\d+$/);
    assert.equal(reachedExpress, 0);
    // anything else goes on to express
    await request(front).post('/api/logout').expect(204);
    await request(front).get('/api/login').expect(404);
    assert.equal(reachedExpress, 2);
  });

  it('GET /api/recordings lists the caller\'s own recordings only, newest first', async () => {
    const res = await request(app).get('/api/recordings').set('Authorization', `Bearer ${await login(ALICE)}`).expect(200);
    assert.deepEqual(res.body.recordings, [
      { name: '2026-11-22T10-00-00Z.webm', stationMount: 'live', startedAt: '2026-11-21T14:30:05.000Z', endedAt: '2026-11-21T15:00:00.000Z', bytes: 13, format: 'webm', url: '/api/recordings/live/2026-11-22T10-00-00Z.webm', failed: null },
      { name: OWN, stationMount: 'live', startedAt: '2026-11-21T14:30:05.000Z', endedAt: '2026-11-21T15:00:00.000Z', bytes: own.length, format: 'ogg-opus', url: `/api/recordings/live/${OWN}`, failed: null },
    ]);
    const bob = await request(app).get('/api/recordings').set('Authorization', `Bearer ${await login(BOB)}`).expect(200);
    assert.deepEqual(bob.body.recordings.map((r: { url: string }) => r.url), ['/api/recordings/other/2026-11-21T15-00-00Z.ogg']);
  });

  it('failed recordings say so in the list: a sidecar with `failed`, the ledger\'s unfinished sidecars and stretches with no file', async () => {
    const d = mkdtempSync(join(tmpdir(), 'icewire-api-failed-'));
    mkdirSync(join(d, 'live'));
    const failedAt = '2026-11-21T14:40:00.000Z';
    writeFileSync(join(d, 'live', '2026-11-21T14-30-05Z.ogg'), 'OggS part of a show');
    writeFileSync(join(d, 'live', '2026-11-21T14-30-05Z.ogg.json'), `${JSON.stringify({ user: 'alice', stationMount: 'live', startedAt: '2026-11-21T14:30:05.000Z', endedAt: failedAt, bytes: 19, format: 'ogg-opus', failed: { reason: 'disk-full', at: failedAt, code: 'ENOSPC' } })}${' '.repeat(200)}\n`);
    // on disk the sidecar still says live; the ledger knows better
    writeFileSync(join(d, 'live', '2026-11-21T15-00-00Z.ogg'), 'OggS');
    sidecar(join(d, 'live', '2026-11-21T15-00-00Z.ogg'), 'alice');
    writeFileSync(join(d, 'live', '2026-11-21T15-00-00Z.ogg.json'), JSON.stringify({ user: 'alice', stationMount: 'live', startedAt: '2026-11-21T15:00:00.000Z', endedAt: null, bytes: 0, format: 'ogg-opus' }));
    const ledger = new RecordingLedger();
    ledger.setSidecar('live', '2026-11-21T15-00-00Z.ogg', { user: 'alice', stationMount: 'live', startedAt: '2026-11-21T15:00:00.000Z', endedAt: '2026-11-21T15:10:00.000Z', bytes: 4, format: 'ogg-opus' });
    const gap = ledger.openStretch({ user: 'alice', stationMount: 'live', format: 'ogg-opus', startedAt: failedAt, failed: { reason: 'disk-full', at: failedAt, code: 'ENOSPC' } });
    ledger.openStretch({ user: 'bob', stationMount: 'other', format: 'ogg-opus', startedAt: failedAt, failed: { reason: 'not-writable', at: failedAt } });
    const a = createApp({ config: () => config, registry: new BroadcastRegistry({ maxBroadcasts: 5, logger }), stats: undefined, logger, recordings: { config: () => config, dir: d, logger, now: () => now, ledger, auth: gateFor(() => config, () => now) } });
    const token = await login(ALICE, a);
    const list = async (): Promise<Record<string, unknown>[]> => (await request(a).get('/api/recordings').set('Authorization', `Bearer ${token}`).expect(200)).body.recordings;
    const diskFull = { reason: 'disk-full', at: failedAt };
    assert.deepEqual(await list(), [
      { name: '2026-11-21T15-00-00Z.ogg', stationMount: 'live', startedAt: '2026-11-21T15:00:00.000Z', endedAt: '2026-11-21T15:10:00.000Z', bytes: 4, format: 'ogg-opus', url: '/api/recordings/live/2026-11-21T15-00-00Z.ogg', failed: null },
      { name: null, stationMount: 'live', startedAt: failedAt, endedAt: null, bytes: 0, format: 'ogg-opus', url: null, failed: { ...diskFull, message: failureMessage('disk-full', false) } },
      { name: '2026-11-21T14-30-05Z.ogg', stationMount: 'live', startedAt: '2026-11-21T14:30:05.000Z', endedAt: failedAt, bytes: 19, format: 'ogg-opus', url: '/api/recordings/live/2026-11-21T14-30-05Z.ogg', failed: { ...diskFull, message: failureMessage('disk-full', true) } },
    ]);
    assert.match(failureMessage('disk-full', false), /not recorded: the server's disk was full\. The show itself went on/);
    gap.close(new Date('2026-11-21T14:50:00.000Z'));
    assert.equal((await list())[1]!.endedAt, '2026-11-21T14:50:00.000Z');
    // the ledger's word is for the list only: a download still serves the file
    await request(a).get('/api/recordings/live/2026-11-21T14-30-05Z.ogg').set('Authorization', `Bearer ${token}`).expect(200);
  });

  it('a broadcaster downloads their own recording (whole, and by Range)', async () => {
    const token = await login(ALICE);
    const res = await request(app).get(`/api/recordings/live/${OWN}`).set('Authorization', `Bearer ${token}`).buffer(true)
      .parse((r, cb) => { const c: Buffer[] = []; r.on('data', (d: Buffer) => c.push(d)); r.on('end', () => cb(null, Buffer.concat(c))); }).expect(200);
    assert.ok((res.body as Buffer).equals(own));
    assert.equal(res.headers['content-type'], 'audio/ogg');
    assert.match(res.headers['content-disposition'] ?? '', new RegExp(`^attachment; filename="?live-${OWN.replace(/\./g, '\\.')}"?$`));
    assert.equal(res.headers['accept-ranges'], 'bytes');
    const part = await request(app).get(`/api/recordings/live/${OWN}`).set('Authorization', `Bearer ${token}`).set('Range', 'bytes=5-9').expect(206);
    assert.equal(part.headers['content-range'], `bytes 5-9/${own.length}`);
    const webm = await request(app).get('/api/recordings/live/2026-11-22T10-00-00Z.webm').set('Authorization', `Bearer ${token}`).expect(200);
    assert.equal(webm.headers['content-type'], 'video/webm');
  });

  it('someone else\'s recording, or one with no sidecar, is 403', async () => {
    const bob = await login(BOB);
    const res = await request(app).get(`/api/recordings/live/${OWN}`).set('Authorization', `Bearer ${bob}`).expect(403);
    assert.equal(res.body.error.code, 'IW_ERR_RECORDING_FORBIDDEN');
    const alice = await login(ALICE);
    await request(app).get('/api/recordings/live/2026-11-21T16-00-00Z.ogg').set('Authorization', `Bearer ${alice}`).expect(403);
    await request(app).get('/api/recordings/other/2026-11-21T15-00-00Z.ogg').set('Authorization', `Bearer ${alice}`).expect(403);
    const missing = await request(app).get('/api/recordings/live/2030-01-01T00-00-00Z.ogg').set('Authorization', `Bearer ${alice}`).expect(404);
    assert.equal(missing.body.error.code, 'IW_ERR_NOT_FOUND');
  });

  it('no token, a made-up token, an expired token, a logged-out token, a removed broadcaster: 401', async () => {
    for (const auth of [undefined, 'Bearer', `Bearer ${'A'.repeat(43)}`, 'Basic YWxpY2U6eA==', `Bearer ${'A'.repeat(44)}`]) {
      const r = request(app).get('/api/recordings');
      const res = await (auth === undefined ? r : r.set('Authorization', auth)).expect(401);
      assert.equal(res.body.error.code, 'IW_ERR_AUTH_REQUIRED');
      await (auth === undefined ? request(app).get(`/api/recordings/live/${OWN}`) : request(app).get(`/api/recordings/live/${OWN}`).set('Authorization', auth)).expect(401);
    }
    const token = await login(ALICE);
    now += SESSION_TTL_MS - 1;
    await request(app).get('/api/recordings').set('Authorization', `Bearer ${token}`).expect(200);
    now += 1;
    await request(app).get('/api/recordings').set('Authorization', `Bearer ${token}`).expect(401);
    const again = await login(ALICE);
    await request(app).post('/api/logout').set('Authorization', `Bearer ${again}`).expect(204);
    await request(app).get('/api/recordings').set('Authorization', `Bearer ${again}`).expect(401);
    // a broadcaster removed from the config (reload) loses their sessions
    let current = config;
    const a = createApp({ config: () => current, registry: new BroadcastRegistry({ maxBroadcasts: 5, logger }), stats: undefined, logger, recordings: { config: () => current, dir, logger, now: () => now, auth: gateFor(() => current, () => now) } });
    const t = await login(ALICE, a);
    current = parseConfig({ ...(await rawConfig()), broadcasters: [{ name: BOB.name, passwordHash: config.broadcasters[1]!.passwordHash, mounts: ['other'] }] }, { env: {} });
    await request(a).get('/api/recordings').set('Authorization', `Bearer ${t}`).expect(401);
  });

  it('path traversal never reaches a file outside the directory (400/404, raw paths)', async () => {
    const token = await login(ALICE);
    const server: Server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as AddressInfo;
    const nasty = [
      '/api/recordings/../../../../etc/passwd',
      '/api/recordings/live/../../../../etc/passwd',
      '/api/recordings/..%2F..%2F..%2Fetc/passwd',
      '/api/recordings/live/..%2F..%2F..%2F..%2Fetc%2Fpasswd',
      '/api/recordings/live/%2e%2e%2f%2e%2e%2flinked%2fpasswd',
      '/api/recordings/%2Fetc/passwd',
      '/api/recordings/live/%2Fetc%2Fpasswd',
      '/api/recordings//etc/passwd',
      '/api/recordings/live/..%5C..%5Clinked%5Cpasswd',
      `/api/recordings/linked/${OWN}`, // symlinked station directory pointing outside
      '/api/recordings/live/2026-11-21T17-00-00Z.ogg', // symlinked file pointing outside
      `/api/recordings/live%2F..%2Flinked/${OWN}`,
      `/api/recordings/live/${OWN}%00.ogg`,
      `/api/recordings/live/${OWN}/..`,
      `/api/recordings/live/${OWN.replace('.ogg', '.ogg.json')}`,
      '/api/recordings/live/%E0%A4%A',
      `/api/recordings/%2e%2e/${OWN}`,
      `/api/recordings/./live/${OWN}`,
      `/api/recordings/live/./${OWN}`,
      `/API/RECORDINGS/linked/${OWN}`,
    ];
    try {
      for (const path of nasty) {
        const res = await rawGet(port, path, token);
        assert.ok(res.status === 400 || res.status === 404, `${path}: ${res.status}`);
        assert.match(res.type ?? '', /^application\/json/, path);
        assert.ok(!res.body.includes(SECRET), `${path} leaked the outside file`);
        assert.match(JSON.parse(res.body).error.code, /^IW_ERR_(RECORDING_BAD_NAME|NOT_FOUND)$/, path);
      }
    } finally {
      server.close();
    }
  });

  it('resolveRecording refuses symlinks and bad names before touching the disk', async () => {
    assert.deepEqual(await resolveRecording(dir, 'linked', OWN), { ok: false, reason: 'not-found' });
    assert.deepEqual(await resolveRecording(dir, 'live', '2026-11-21T17-00-00Z.ogg'), { ok: false, reason: 'not-found' });
    assert.deepEqual(await resolveRecording(dir, '..', OWN), { ok: false, reason: 'bad-name' });
    assert.deepEqual(await resolveRecording(dir, 'live', `../${OWN}`), { ok: false, reason: 'bad-name' });
    const ok = await resolveRecording(dir, 'live', OWN);
    assert.ok(ok.ok && ok.meta?.user === 'alice' && readFileSync(ok.path).equals(own));
  });

  it('in passthrough mode there is no login and no recordings API', async () => {
    const c = parseConfig({}, { env: {} });
    const a = createApp({ config: () => c, registry: new BroadcastRegistry({ maxBroadcasts: 5, logger }), stats: undefined, logger, recordings: { config: () => c, dir, logger, auth: gateFor(() => c) } });
    assert.equal((await request(a).post('/api/login').send({ user: ALICE.name, password: ALICE.password }).expect(404)).body.error.code, 'IW_ERR_NOT_FOUND');
    await request(a).get('/api/recordings').expect(404);
    await request(a).get(`/api/recordings/live/${OWN}`).expect(404);
  });
});

describe('session store', () => {
  it('expires sessions and stays bounded (oldest out first, per broadcaster too)', () => {
    let now = 1000;
    const s = new SessionStore({ ttlMs: 100, maxSessions: 3, maxPerUser: 2, now: () => now });
    const a1 = s.create('a').token;
    const b1 = s.create('b').token;
    const c1 = s.create('c').token;
    const d1 = s.create('d').token; // over 3: a1 goes
    assert.equal(s.size, 3);
    assert.equal(s.get(a1), undefined);
    assert.equal(s.get(b1), 'b');
    const d2 = s.create('d').token;
    const d3 = s.create('d').token; // d has 2 at most: d1 goes
    assert.equal(s.get(d1), undefined);
    assert.equal(s.get(d2), 'd');
    assert.equal(s.get(d3), 'd');
    assert.ok(s.size <= 3);
    now += 100;
    assert.equal(s.get(d3), undefined, 'expired');
    assert.equal(s.get(c1), undefined);
  });
});
