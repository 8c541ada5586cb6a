// The guests' signalling door over real WebSockets (ws clients standing in for the two pages; the
// browsers' side is test/browser/guests.test.ts): who is let in, what is relayed to whom, the
// bounds (binary frames, frame size, message rate), a guest's drop and rejoin, and the grace.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import winston from 'winston';
import { WebSocket } from 'ws';
import { AuthGate } from '../../server/auth/auth-gate.js';
import { hashPassword } from '../../server/auth/password-hash.js';
import { parseConfig } from '../../server/config/load.js';
import type { Config } from '../../server/config/schema.js';
import { GuestDoor } from '../../server/guests/guest-door.js';
import { SessionStore } from '../../server/http/recordings-routes.js';
import { createLogger } from '../../server/log.js';
import { GUEST_WS_SUBPROTOCOL } from '../../www/src/wire-contract.js';

interface Frame { type: string; data: Record<string, unknown> }

/** A page's socket: every frame it got, in order, and how it closed. */
class Client {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number }>;
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => { this.frames.push(JSON.parse(String(d)) as Frame); for (const w of this.waiters.splice(0)) w(); });
    this.closed = new Promise((resolve) => ws.on('close', (code) => { resolve({ code }); for (const w of this.waiters.splice(0)) w(); }));
  }

  send(type: string, data: unknown): void {
    this.ws.send(JSON.stringify({ type, data }));
  }

  /** The next frame of this type not taken yet. */
  async next(type: string, timeoutMs = 3000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex((f) => f.type === type);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no ${type} frame; got ${JSON.stringify(this.frames.map((f) => f.type))}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 100); });
    }
  }
}

describe('guests\' signalling door (real WebSockets)', function () {
  this.timeout(20000);
  let server: Server;
  let door: GuestDoor;
  let sessions: SessionStore;
  let config: Config;
  let url: string;
  const logLines: string[] = [];

  before(async () => {
    config = parseConfig({
      icecast: { url: 'http://127.0.0.1:1', sourcePassword: 'x' },
      broadcasters: [
        { name: 'alice', passwordHash: await hashPassword('alice-pw'), mounts: ['live'] },
        { name: 'bob', passwordHash: await hashPassword('bob-pw'), mounts: ['live'] },
      ],
      mounts: { live: { renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }] } },
      guests: { rejoinGraceMs: 1000 },
    }, { env: {} });
    const sink = new Writable({ write(chunk: Buffer, _e, cb) { logLines.push(chunk.toString('utf8')); cb(); } });
    const logger = createLogger({ level: 'debug', json: true, console: false, transports: [new winston.transports.Stream({ stream: sink })] });
    sessions = new SessionStore();
    const auth = new AuthGate({ accounts: () => config.broadcasters, limits: config.limits, logger, loginTokens: sessions });
    door = new GuestDoor({ config, auth, logger });
    server = createServer((_q, r) => r.end());
    server.on('upgrade', (req, socket, head) => { if (!door.handleUpgrade(req, socket, head)) socket.destroy(); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws/_guest/live`;
  });
  after(async () => {
    await door.close();
    await new Promise((r) => server.close(r));
  });

  async function connect(hello: Record<string, unknown>): Promise<Client> {
    const ws = new WebSocket(url, GUEST_WS_SUBPROTOCOL);
    const c = new Client(ws);
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    c.send('hello', hello);
    return c;
  }
  const host = (user = 'alice'): Promise<Client> => connect({ role: 'host', user, token: sessions.create(user).token });
  const guest = (invitation: string, extra: Record<string, unknown> = {}): Promise<Client> => connect({ role: 'guest', invitation, name: 'Sam', instance: 'page1', ...extra });

  async function invite(h: Client): Promise<{ id: string; token: string }> {
    h.send('invite', { label: 'Sam' });
    const f = await h.next('invited');
    return { id: String(f.data['id']), token: String(f.data['token']) };
  }

  it('relays between the two parties of one invitation only, and only the fields it knows', async () => {
    const alice = await host();
    const desk = await alice.next('desk');
    assert.deepEqual(desk.data['ice'], { iceTransportPolicy: 'all', iceServers: [] });
    const bob = await host('bob');
    await bob.next('desk');
    const inv = await invite(alice);
    const g = await guest(inv.token);
    const welcome = await g.next('welcome');
    assert.equal(welcome.data['host'], true);
    assert.equal((await alice.next('guest')).data['event'], 'joined');

    alice.send('signal', { guest: inv.id, description: { type: 'offer', sdp: 'v=0 offer' }, extra: 'x' });
    assert.deepEqual((await g.next('signal')).data, { description: { type: 'offer', sdp: 'v=0 offer' } });
    g.send('signal', { description: { type: 'answer', sdp: 'v=0 answer' } });
    assert.deepEqual((await alice.next('signal')).data, { guest: inv.id, description: { type: 'answer', sdp: 'v=0 answer' } });
    // Another host naming alice's guest reaches nobody.
    bob.send('signal', { guest: inv.id, description: { type: 'offer', sdp: 'v=0 from bob' } });
    bob.send('cue', { guest: inv.id, onAir: true, muted: false });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(g.frames.filter((f) => f.type === 'signal' || f.type === 'cue').length, 0);
    assert.equal(bob.frames.filter((f) => f.type === 'guest').length, 0, 'bob never hears of alice\'s guest');
    alice.send('cue', { guest: inv.id, onAir: true, muted: false });
    assert.deepEqual((await g.next('cue')).data, { onAir: true, muted: false });

    // The guest's page drops (no close frame): away, then back with the rejoin secret.
    g.ws.terminate();
    assert.equal((await alice.next('guest')).data['event'], 'away');
    const g2 = await guest(inv.token, { rejoin: welcome.data['rejoin'], instance: 'page1' });
    const w2 = await g2.next('welcome');
    assert.deepEqual(w2.data['cue'], { onAir: true, muted: false }, 'a guest coming back is told the host\'s switches at once');
    const back = await alice.next('guest');
    assert.equal(back.data['event'], 'back');
    assert.equal(back.data['instance'], 'page1');
    // … and away for longer than the grace: their place is given up.
    g2.ws.terminate();
    assert.equal((await alice.next('guest')).data['event'], 'away');
    const gone = await alice.next('guest', 3000);
    assert.deepEqual([gone.data['event'], gone.data['why']], ['gone', 'lost']);
    const g3 = await guest(inv.token, { rejoin: w2.data['rejoin'] });
    assert.equal((await g3.next('error')).data['code'], 'IW_ERR_GUEST_AWAY_TOO_LONG');
    assert.equal((await g3.closed).code, 4403);
    for (const c of [alice, bob]) c.ws.close();
  });

  it('bounded: a binary frame, a frame over 32 KiB, and a flood are refused with their codes', async () => {
    const alice = await host();
    await alice.next('desk');
    const inv = await invite(alice);
    const g = await guest(inv.token);
    await g.next('welcome');
    g.ws.send(Buffer.from([1, 2, 3]));
    assert.equal((await g.next('error')).data['code'], 'IW_ERR_SIGNAL_BAD_MESSAGE');
    assert.equal((await g.closed).code, 4400);

    const big = await host();
    await big.next('desk');
    big.send('signal', { guest: 'x', description: { type: 'offer', sdp: 'a'.repeat(40 * 1024) } });
    assert.equal((await big.next('error')).data['code'], 'IW_ERR_SIGNAL_BAD_MESSAGE');

    const flood = await host();
    await flood.next('desk');
    for (let i = 0; i < 260; i++) flood.send('future-thing', {});
    assert.equal((await flood.next('error')).data['code'], 'IW_ERR_SIGNAL_TOO_FAST');
    assert.equal((await flood.closed).code, 4429);
    alice.ws.close();
  });

  it('a host is a logged-in broadcaster of that station; a made-up guest token is a failed login', async () => {
    const bad = await connect({ role: 'host', user: 'alice', token: 'made-up' });
    assert.equal((await bad.next('error')).data['code'], 'IW_ERR_AUTH_FAILED');
    const nobody = await guest('A'.repeat(43));
    assert.equal((await nobody.next('error')).data['code'], 'IW_ERR_GUEST_TOKEN_UNKNOWN');
    assert.equal((await nobody.closed).code, 4401);
    assert.ok(logLines.some((l) => l.includes('IW_ERR_GUEST_TOKEN_UNKNOWN') && l.includes('guests')), 'the refusal is in the log with its door');
  });
});
