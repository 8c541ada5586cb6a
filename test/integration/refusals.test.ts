// Every refusal is a close code plus an IW_ERR_* error frame, the daemon keeps serving, and no
// ffmpeg is left behind. Real icecast2 throughout.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import request from 'supertest';
import { fixture } from '../helpers/media.js';
import { waitFor } from '../helpers/listener.js';
import { childFfmpegPids, secret, startStack, type Stack } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';
import { rawSource } from '../helpers/source-clients.js';
import { GUEST_WS_SUBPROTOCOL } from '../../www/src/wire-contract.js';
import { WebSocket } from 'ws';
import { freePort } from '../../server/icecast/managed-icecast.js';

const HELLO_TIMEOUT_MS = 600;
const MAX_FRAME = 64 * 1024;

async function expectRefusal(c: WebcastClient, close: number, code: string): Promise<void> {
  const got = await c.closed;
  assert.equal(got.code, close, `close code (errors: ${JSON.stringify(c.errors)})`);
  assert.equal(c.errors.length, 1, 'exactly one error frame');
  assert.equal(c.errors[0]!.code, code);
  assert.equal(got.reason, code, 'the close reason carries the code too');
  assert.ok(c.errors[0]!.message.length > 20 && /[.!]$/.test(c.errors[0]!.message), 'a sentence for the person');
  assert.ok(!/S3cr3t-/.test(c.errors[0]!.message), 'no secret in the message');
}

describe('refusals (accounts mode)', function () {
  this.timeout(60000);
  let stack: Stack;
  let webm: string;
  const hello = (c: WebcastClient, over: Record<string, unknown> = {}): void =>
    c.hello({ mime: 'audio/webm;codecs=opus', user: stack.broadcaster.name, password: stack.broadcaster.password, ...over });

  before(async () => {
    webm = await fixture('audio-webm', 10);
    stack = await startStack({ limits: { helloTimeoutMs: HELLO_TIMEOUT_MS, maxFrameBytes: MAX_FRAME } });
  });
  after(async () => {
    await stack.stop();
  });
  afterEach(async () => {
    // the daemon still serves (and, the teardown rule: no ffmpeg is left)
    await request(stack.baseUrl).get('/healthz').expect(200);
  });

  it('wrong broadcaster password: 4401 IW_ERR_AUTH_FAILED', async () => {
    const c = new WebcastClient(`${stack.wsBase}live`);
    await c.opened;
    hello(c, { password: 'not-the-password' });
    await expectRefusal(c, 4401, 'IW_ERR_AUTH_FAILED');
  });

  it('unknown broadcaster: 4401 IW_ERR_AUTH_FAILED', async () => {
    const c = new WebcastClient(`${stack.wsBase}live`);
    await c.opened;
    hello(c, { user: 'mallory' });
    await expectRefusal(c, 4401, 'IW_ERR_AUTH_FAILED');
  });

  it('mount not allowed for this broadcaster: 4403 IW_ERR_MOUNT_FORBIDDEN', async () => {
    const c = new WebcastClient(`${stack.wsBase}other`);
    await c.opened;
    hello(c);
    await expectRefusal(c, 4403, 'IW_ERR_MOUNT_FORBIDDEN');
  });

  it('unknown station mount: 4403 IW_ERR_MOUNT_UNKNOWN', async () => {
    const c = new WebcastClient(`${stack.wsBase}nope`);
    await c.opened;
    hello(c);
    await expectRefusal(c, 4403, 'IW_ERR_MOUNT_UNKNOWN');
  });

  it('no hello: 4400 IW_ERR_PROTO_HELLO_TIMEOUT', async () => {
    const c = new WebcastClient(`${stack.wsBase}live`);
    await c.opened;
    await expectRefusal(c, 4400, 'IW_ERR_PROTO_HELLO_TIMEOUT');
  });

  it('binary before hello: 4400 IW_ERR_PROTO_EXPECTED_HELLO', async () => {
    const c = new WebcastClient(`${stack.wsBase}live`);
    await c.opened;
    c.ws.send(Buffer.from([0x1a, 0x45, 0xdf, 0xa3]));
    await expectRefusal(c, 4400, 'IW_ERR_PROTO_EXPECTED_HELLO');
  });

  it('text that is not {type, data} JSON: 4400 IW_ERR_PROTO_BAD_MESSAGE', async () => {
    const c = new WebcastClient(`${stack.wsBase}live`);
    await c.opened;
    c.ws.send('{"type": hello');
    await expectRefusal(c, 4400, 'IW_ERR_PROTO_BAD_MESSAGE');
  });

  it('unsupported mime: 4415 IW_ERR_INGEST_UNSUPPORTED_MEDIA', async () => {
    const c = new WebcastClient(`${stack.wsBase}live`);
    await c.opened;
    hello(c, { mime: 'video/mp4;codecs=avc1' });
    await expectRefusal(c, 4415, 'IW_ERR_INGEST_UNSUPPORTED_MEDIA');
  });

  it('garbage bytes instead of WebM: 4415 IW_ERR_INGEST_INVALID_MEDIA', async () => {
    const c = new WebcastClient(`${stack.wsBase}live`);
    await c.opened;
    hello(c);
    c.ws.send(Buffer.from('this is not a webm file at all, just text bytes'));
    await expectRefusal(c, 4415, 'IW_ERR_INGEST_INVALID_MEDIA');
  });

  it('a corrupted WebM header that ffmpeg rejects: 4415 IW_ERR_INGEST_INVALID_MEDIA', async () => {
    const c = new WebcastClient(`${stack.wsBase}live`);
    await c.opened;
    hello(c);
    const bad = Buffer.alloc(4096, 0x00);
    Buffer.from([0x1a, 0x45, 0xdf, 0xa3]).copy(bad); // right magic, nonsense after it
    c.ws.send(bad);
    await expectRefusal(c, 4415, 'IW_ERR_INGEST_INVALID_MEDIA');
  });

  it('a frame over maxFrameBytes: 4413 IW_ERR_PROTO_FRAME_TOO_LARGE', async () => {
    const c = new WebcastClient(`${stack.wsBase}live`);
    await c.opened;
    hello(c);
    await c.live();
    c.ws.send(Buffer.alloc(MAX_FRAME + 1, 0x1a));
    await expectRefusal(c, 4413, 'IW_ERR_PROTO_FRAME_TOO_LARGE');
  });

  it('a foreign Origin: 4403 IW_ERR_ORIGIN_FORBIDDEN', async () => {
    const c = new WebcastClient(`${stack.wsBase}live`, { origin: 'https://evil.example' });
    await c.opened;
    await expectRefusal(c, 4403, 'IW_ERR_ORIGIN_FORBIDDEN');
  });

  it('accepts the daemon\'s own origin', async () => {
    const c = new WebcastClient(`${stack.wsBase}live`, { origin: stack.baseUrl });
    await c.opened;
    hello(c);
    await c.live();
    c.close();
    assert.equal((await c.closed).code, 1000);
  });

  it('mount busy here: 4409 IW_ERR_MOUNT_BUSY, and the first broadcast carries on', async () => {
    const first = new WebcastClient(`${stack.wsBase}live`);
    await first.opened;
    hello(first);
    const streaming = first.stream(webm, { seconds: 10, maxChunks: 8 });
    await first.live();
    const second = new WebcastClient(`${stack.wsBase}live`);
    await second.opened;
    hello(second);
    await expectRefusal(second, 4409, 'IW_ERR_MOUNT_BUSY');
    await streaming;
    assert.equal(first.ws.readyState, first.ws.OPEN, 'the first broadcaster is still connected');
    assert.equal(first.errors.length, 0);
    first.close();
    await first.closed;
  });

  it('mount busy on Icecast (another source client): 4409 IW_ERR_ICECAST_MOUNT_IN_USE', async () => {
    const squatter: Socket = connect(stack.icecast!.port, '127.0.0.1');
    await new Promise((r) => squatter.once('connect', r));
    squatter.write(`PUT /live.ogg HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${Buffer.from(`source:${stack.icecast!.sourcePassword}`).toString('base64')}\r\nContent-Type: audio/ogg\r\n\r\n`);
    await new Promise((r) => squatter.once('data', r));
    try {
      const c = new WebcastClient(`${stack.wsBase}live`);
      await c.opened;
      hello(c);
      await expectRefusal(c, 4409, 'IW_ERR_ICECAST_MOUNT_IN_USE');
    } finally {
      squatter.destroy();
    }
  });

  it('too many failed logins from one address: 4429 IW_ERR_AUTH_RATE_LIMITED', async () => {
    const limited = await startStack({ noIcecast: true, limits: { maxFailedLogins: 3 } });
    try {
      for (let i = 0; i < 3; i++) {
        const c = new WebcastClient(`${limited.wsBase}live`);
        await c.opened;
        c.hello({ mime: 'audio/webm', user: limited.broadcaster.name, password: `wrong-${i}` });
        await expectRefusal(c, 4401, 'IW_ERR_AUTH_FAILED');
      }
      const c = new WebcastClient(`${limited.wsBase}live`);
      await c.opened;
      c.hello({ mime: 'audio/webm', user: limited.broadcaster.name, password: limited.broadcaster.password });
      await expectRefusal(c, 4429, 'IW_ERR_AUTH_RATE_LIMITED');
    } finally {
      await limited.stop();
    }
  });
});

describe('one failed-login limiter for every door', function () {
  this.timeout(60000);

  it('10 wrong passwords split between the WebSocket and POST /api/login from one address hit the limit on both', async () => {
    // limits.maxFailedLogins is 10 by default; no Icecast is needed to refuse a login
    const s = await startStack({ noIcecast: true });
    const { name, password } = s.broadcaster;
    const viaSocket = async (pw: string): Promise<WebcastClient> => {
      const c = new WebcastClient(`${s.wsBase}live`);
      await c.opened;
      c.hello({ mime: 'audio/webm;codecs=opus', user: name, password: pw });
      await c.closed;
      return c;
    };
    const viaLogin = (pw: string): request.Test => request(s.baseUrl).post('/api/login').send({ user: name, password: pw });
    for (let i = 0; i < 5; i++) {
      await expectRefusal(await viaSocket(`wrong-${i}`), 4401, 'IW_ERR_AUTH_FAILED');
      assert.equal((await viaLogin(`wrong-${i}`).expect(401)).body.error.code, 'IW_ERR_AUTH_FAILED');
    }
    // the 11th try is refused at either door, even with the right password
    await expectRefusal(await viaSocket(password), 4429, 'IW_ERR_AUTH_RATE_LIMITED');
    const limited = await viaLogin(password).expect(429);
    assert.equal(limited.body.error.code, 'IW_ERR_AUTH_RATE_LIMITED');
    // when the oldest failure leaves the window (10 min by default)
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter > 500 && retryAfter <= 600, `Retry-After: ${limited.headers['retry-after']}`);
    const refused = s.logLines.filter((l) => /"message":"login refused"/.test(l));
    assert.deepEqual(
      refused.map((l) => `${/"door":"([a-z-]+)"/.exec(l)?.[1]} ${/"code":"(IW_ERR_[A-Z_]+)"/.exec(l)?.[1]}`),
      [...Array.from({ length: 5 }, () => ['websocket IW_ERR_AUTH_FAILED', 'http-login IW_ERR_AUTH_FAILED']).flat(),
        'websocket IW_ERR_AUTH_RATE_LIMITED', 'http-login IW_ERR_AUTH_RATE_LIMITED'],
      'the gate logs every refusal once, with its door',
    );
  });
});

describe('refusals from Icecast (passthrough mode)', function () {
  this.timeout(60000);
  let stack: Stack;
  before(async () => {
    stack = await startStack({ mode: 'passthrough' });
  });
  after(async () => {
    await stack.stop();
  });

  it('wrong Icecast source password: 4401 IW_ERR_ICECAST_AUTH', async () => {
    const c = new WebcastClient(`${stack.wsBase}live.ogg`);
    await c.opened;
    c.hello({ mime: 'audio/webm;codecs=opus', user: 'source', password: secret() });
    await expectRefusal(c, 4401, 'IW_ERR_ICECAST_AUTH');
    await waitFor('no ffmpeg left', () => childFfmpegPids().length === 0, 5000);
  });

  it('the right source password goes live on /<name>', async () => {
    const c = new WebcastClient(`${stack.wsBase}live.ogg`);
    await c.opened;
    c.hello({ mime: 'audio/webm;codecs=opus', user: 'source', password: stack.icecast!.sourcePassword });
    await c.live();
    assert.deepEqual(c.statuses.at(-1)!.renditions.map((r) => r.mount), ['/live.ogg']);
    c.close();
    await c.closed;
  });

  it('Icecast down: 4502 IW_ERR_ICECAST_UNREACHABLE, and the daemon keeps serving', async () => {
    const down = await startStack({ mode: 'passthrough', icecastUrl: `http://127.0.0.1:${await freePort()}` });
    try {
      const c = new WebcastClient(`${down.wsBase}live.ogg`);
      await c.opened;
      c.hello({ mime: 'audio/webm;codecs=opus', user: 'source', password: secret() });
      await expectRefusal(c, 4502, 'IW_ERR_ICECAST_UNREACHABLE');
      await waitFor('no ffmpeg left', () => childFfmpegPids().length === 0, 5000);
      const health = await request(down.baseUrl).get('/healthz');
      assert.equal(health.status, 503);
      assert.equal(health.body.icecast, 'unreachable');
    } finally {
      await down.stop();
    }
  });
});

describe('a guest\'s invitation opens nothing but the guests\' door', function () {
  this.timeout(60000);
  // No Icecast is needed to refuse a credential; the manager API is on (it has a token) so its
  // refusal is about the credential, not about being switched off. A high failed-login limit keeps
  // the tries below from locking this address out before the last check.
  let s: Stack;
  let invitation: string;
  let guestDoor: string;
  const SENTENCE = /^[A-Z].{20,}[.!]$/;

  /** The host's page as a bare socket: log in, open the desk, make one link; its token. */
  async function inviteOne(): Promise<string> {
    const login = await request(s.baseUrl).post('/api/login').send({ user: s.broadcaster.name, password: s.broadcaster.password }).expect(200);
    const ws = new WebSocket(guestDoor, GUEST_WS_SUBPROTOCOL);
    const frames: { type: string; data: Record<string, unknown> }[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(String(d)) as { type: string; data: Record<string, unknown> }));
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    ws.send(JSON.stringify({ type: 'hello', data: { role: 'host', user: s.broadcaster.name, token: (login.body as { token: string }).token } }));
    await waitFor('the desk', () => frames.some((f) => f.type === 'desk'), 5000);
    ws.send(JSON.stringify({ type: 'invite', data: { label: 'Sam' } }));
    const invited = await waitFor('the link', () => frames.find((f) => f.type === 'invited'), 5000);
    hostDesk = ws;
    return String(invited.data['token']);
  }
  let hostDesk: WebSocket | undefined;

  before(async () => {
    s = await startStack({ noIcecast: true, limits: { maxFailedLogins: 100 }, config: { admin: { token: secret() } } });
    guestDoor = `${s.wsBase}_guest/live`;
    invitation = await inviteOne();
  });
  after(async () => {
    hostDesk?.close();
    await s.stop();
  });

  it('the ingest (/ws/live) refuses it as a password, a login token, a resume token and a guest\'s hello; no media frame gets in', async () => {
    const { name } = s.broadcaster;
    const tries: [string, Record<string, unknown>][] = [
      ['as the password', { mime: 'audio/webm;codecs=opus', user: name, password: invitation }],
      ['as a login token', { mime: 'audio/webm;codecs=opus', user: name, token: invitation }],
      ['as a resume token', { mime: 'audio/webm;codecs=opus', user: name, resume: invitation }],
      ['without a user', { mime: 'audio/webm;codecs=opus', token: invitation }],
    ];
    for (const [how, hello] of tries) {
      const c = new WebcastClient(`${s.wsBase}live`, { origin: s.baseUrl });
      await c.opened;
      c.hello(hello);
      // what a guest would send next: media
      c.ws.send(Buffer.from([0x1a, 0x45, 0xdf, 0xa3]));
      const got = await c.closed;
      assert.equal(got.code, 4401, `${how}: 4401 (${JSON.stringify(c.errors)})`);
      assert.equal(c.errors[0]?.code, 'IW_ERR_AUTH_FAILED', how);
      assert.match(c.errors[0]!.message, SENTENCE, `${how}: a sentence`);
      assert.equal(c.statuses.filter((st) => st.state === 'live').length, 0, `${how}: never live`);
    }
    // The guests' own hello, knocked on the broadcasters' door: not a broadcaster's hello.
    const asGuest = new WebcastClient(`${s.wsBase}live`, { origin: s.baseUrl });
    await asGuest.opened;
    asGuest.ws.send(JSON.stringify({ type: 'hello', data: { role: 'guest', invitation, name: 'Sam', instance: 'x' } }));
    asGuest.ws.send(Buffer.from([0x1a, 0x45, 0xdf, 0xa3]));
    assert.equal((await asGuest.closed).code, 4400);
    assert.equal(asGuest.errors[0]?.code, 'IW_ERR_PROTO_BAD_MESSAGE');
    assert.match(asGuest.errors[0]!.message, SENTENCE);
    // …and with the guests' subprotocol the broadcasters' door does not even open.
    const guestProto = new WebcastClient(`${s.wsBase}live`, { origin: s.baseUrl, protocols: [GUEST_WS_SUBPROTOCOL] });
    await assert.rejects(guestProto.opened, 'the ingest does not speak the guests\' subprotocol');
    assert.equal(s.daemon.registry.size, 0, 'no broadcast was started');
    assert.deepEqual(childFfmpegPids(), [], 'no encoder was started');
  });

  it('the manager API (/api/admin/*), the recordings API, /api/login and the source door refuse it, each with its status and a sentence', async () => {
    const bearer = `Bearer ${invitation}`;
    const http = request(s.baseUrl);
    const expectRefused = (res: request.Response, status: number, code: string, what: string): void => {
      assert.equal(res.status, status, `${what}: ${status} (${JSON.stringify(res.body)})`);
      assert.equal(res.body.error?.code, code, what);
      assert.match(res.body.error?.message ?? '', SENTENCE, `${what}: a sentence`);
      assert.ok(!JSON.stringify(res.body).includes(invitation), `${what}: the token is not echoed`);
    };
    expectRefused(await http.get('/api/admin/broadcasts').set('Authorization', bearer), 401, 'IW_ERR_ADMIN_AUTH', 'GET /api/admin/broadcasts (bearer)');
    expectRefused(await http.post('/api/admin/broadcasts/live/end').set('Authorization', bearer).send({}), 401, 'IW_ERR_ADMIN_AUTH', 'POST /api/admin/broadcasts/live/end (bearer)');
    expectRefused(await http.get('/api/admin/broadcasts').set('Cookie', `token=${invitation}; session=${invitation}`), 401, 'IW_ERR_ADMIN_AUTH', '/api/admin (cookie)');
    expectRefused(await http.get('/api/recordings').set('Authorization', bearer), 401, 'IW_ERR_AUTH_REQUIRED', 'GET /api/recordings (bearer)');
    expectRefused(await http.get('/api/recordings/live/x.ogg').set('Authorization', bearer), 401, 'IW_ERR_AUTH_REQUIRED', 'a recording download (bearer)');
    expectRefused(await http.get('/api/recordings').set('Cookie', `token=${invitation}; session=${invitation}`), 401, 'IW_ERR_AUTH_REQUIRED', '/api/recordings (cookie)');
    expectRefused(await http.post('/api/login').send({ user: s.broadcaster.name, password: invitation }), 401, 'IW_ERR_AUTH_FAILED', 'POST /api/login (as the password)');
    // Icecast source clients on the daemon's port: PUT with the token as the password, and "now playing".
    const port = Number(new URL(s.baseUrl).port);
    for (const user of [s.broadcaster.name, 'source']) {
      const put = await rawSource(port, '/live', { user, password: invitation }, 'audio/mpeg');
      assert.match(put, /^HTTP\/1\.[01] 401 /, `a source client's PUT as ${user}: 401`);
    }
    const meta = await fetch(`${s.baseUrl}/admin/metadata?mount=/live&mode=updinfo&song=x`, { headers: { Authorization: `Basic ${Buffer.from(`${s.broadcaster.name}:${invitation}`).toString('base64')}` } });
    assert.equal(meta.status, 401, '/admin/metadata: 401');
    assert.equal(s.daemon.registry.size, 0);
    assert.ok(!s.logLines.some((l) => l.includes(invitation)), 'the token is in no log line');
  });

  it('…and the same token still lets its guest in at the guests\' door (it was a valid, unused invitation all along)', async () => {
    const ws = new WebSocket(guestDoor, GUEST_WS_SUBPROTOCOL);
    const frames: { type: string }[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(String(d)) as { type: string }));
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    ws.send(JSON.stringify({ type: 'hello', data: { role: 'guest', invitation, name: 'Sam', instance: 'page1' } }));
    await waitFor('the welcome', () => frames.some((f) => f.type === 'welcome'), 5000);
    ws.close();
  });
});
