// Hostile input against a real daemon process (icewire serve) and a real icecast2, while a canary
// broadcast streams with a listener connected throughout. Every case must get its documented
// close code (or HTTP answer); afterwards the canary's listener has one uninterrupted valid
// stream, no ffmpeg is left, and the daemon's RSS stayed under a stated bound.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { fixture, probe, uploadFixture } from '../helpers/media.js';
import { listen, waitFor, waitForMount, type Recording } from '../helpers/listener.js';
import { oggPages } from '../helpers/ogg-pages.js';
import { spawnDaemon, type DaemonProcess } from '../helpers/daemon-process.js';
import { runawayStream } from '../helpers/runaway-opus.js';
import { secret } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';
import { icyFields, icyListen } from '../helpers/icy-listener.js';
import { startIcecast, type ManagedIcecast } from '../../server/icecast/managed-icecast.js';
import { hashPassword } from '../../server/auth/password-hash.js';
import { BODY_TIMEOUT_MS } from '../../server/http/request-deadlines.js';
import { RECORDING_FILE_RE } from '../../server/recorder/recording-names.js';

/** The stated bound: the daemon process stays under this RSS through the whole suite. */
/** (Measured here: ~60 MB idle, ~210 MB at the peak of 1000 sockets and concurrent scrypt logins.) */
const RSS_BOUND_MB = 300;
const MAX_FRAME = 262144;
const HELLO_TIMEOUT_MS = 1500;
const MAX_CONNECTIONS_PER_ADDRESS = 20;
const MAX_FAILED_LOGINS = 5;
/** A slow request body is cut this long after its head at the latest (the deadline, plus the close). */
const SLOW_BODY_BOUND_MS = BODY_TIMEOUT_MS + 2000;

interface Outcome { got: string; detail?: string }
interface Case { name: string; expected: string; run: () => Promise<Outcome> }

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe('hostile input while a canary broadcast streams', function () {
  this.timeout(180000);
  let icecast: ManagedIcecast;
  let daemon: DaemonProcess;
  let base = '';
  let wsBase = '';
  let recordingsDir = '';
  let canary: WebcastClient;
  let canaryStreaming: Promise<number>;
  let listener: Recording;
  let maxRss = 0;
  let rssTimer: NodeJS.Timeout;
  const user = { name: 'host', password: secret() };
  const rows: { name: string; expected: string; got: string; ok: boolean }[] = [];
  let addrCounter = 1;
  let mountCounter = 0;
  /** A station mount no other case uses (cases run in parallel). */
  const fresh = (): string => `c${++mountCounter}`;
  /** Every case looks like a different client (the daemon trusts X-Forwarded-For from loopback). */
  const nextAddr = (): string => `198.51.${Math.floor(addrCounter / 250)}.${(addrCounter++ % 250) + 1}`;

  before(async () => {
    icecast = await startIcecast({ sourcePassword: secret(), adminPassword: secret() });
    const dir = mkdtempSync(join(tmpdir(), 'icewire-hostile-'));
    const mounts: Record<string, unknown> = { live: { renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }] } };
    for (let i = 1; i <= 70; i++) mounts[`c${i}`] = { renditions: [{ mount: `/c${i}.ogg`, format: 'ogg-opus' }] };
    mounts.m8 = { renditions: [{ mount: '/m8.ogg', format: 'ogg-opus' }] };
    mounts.icy = { renditions: [{ mount: '/icy.mp3', format: 'mp3', bitrate: 64 }] }; // the ICY injection case
    // recorded, a new file every minute (of wall-clock time)
    mounts.rec = { renditions: [{ mount: '/rec.ogg', format: 'ogg-opus' }], record: true, segmentMinutes: 1 };
    recordingsDir = join(dir, 'recordings');
    const config = {
      listen: { host: '127.0.0.1', port: 0 },
      trustProxy: true,
      icecast: { url: icecast.url, statsIntervalMs: 1000 },
      broadcasters: [
        { name: user.name, passwordHash: await hashPassword(user.password), mounts: Object.keys(mounts).filter((m) => m !== 'm8') },
        { name: 'other', passwordHash: await hashPassword(secret()), mounts: ['m8'] },
      ],
      mounts,
      recordings: { dir: recordingsDir },
      limits: {
        maxFrameBytes: MAX_FRAME, helloTimeoutMs: HELLO_TIMEOUT_MS, maxConnectionsPerAddress: MAX_CONNECTIONS_PER_ADDRESS,
        maxFailedLogins: MAX_FAILED_LOGINS, maxBroadcasts: 20, idleTimeoutMs: 3000, reconnectGraceMs: 2000,
      },
    };
    daemon = await spawnDaemon({ config, env: { ICEWIRE_ICECAST_SOURCE_PASSWORD: icecast.sourcePassword } });
    base = daemon.url;
    wsBase = daemon.wsBase;
    rssTimer = setInterval(() => { maxRss = Math.max(maxRss, rssMb(daemon.child.pid!)); }, 100);

    canary = new WebcastClient(`${wsBase}live`, { headers: { 'X-Forwarded-For': '192.0.2.1' } });
    await canary.opened;
    canary.hello({ mime: 'audio/webm;codecs=opus', user: user.name, password: user.password });
    canaryStreaming = canary.stream(await fixture('audio-webm', 120), { seconds: 120 });
    await canary.live();
    await waitForMount(icecast.url, icecast.adminPassword, '/live.ogg');
    listener = listen(`${icecast.url}/live.ogg`);
  });

  after(async () => {
    clearInterval(rssTimer);
    canary?.close();
    listener?.stop();
    await daemon?.stop();
    await icecast?.stop();
  });

  /** Open a socket as a fresh client, do something, report how it ended. */
  async function wsCase(mount: string, act: (c: WebcastClient) => Promise<void> | void, opts: { origin?: string; addr?: string; protocols?: string[] } = {}): Promise<Outcome> {
    const c = new WebcastClient(`${wsBase}${mount}`, {
      headers: { 'X-Forwarded-For': opts.addr ?? nextAddr() },
      ...(opts.origin !== undefined ? { origin: opts.origin } : {}),
      ...(opts.protocols !== undefined ? { protocols: opts.protocols } : {}),
    });
    try {
      await c.opened;
    } catch (err) {
      if (/no subprotocol/.test(String(err))) return { got: 'client refuses: no subprotocol selected' };
      return { got: `HTTP ${/Unexpected server response: (\d+)/.exec(String(err))?.[1] ?? String(err)}` };
    }
    await act(c);
    const closed = await Promise.race([c.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 15000))]);
    if (closed === undefined) { c.ws.terminate(); return { got: 'still open' }; }
    const code = c.errors[0]?.code;
    return { got: `${closed.code}${code ? ` ${code}` : ''}` };
  }

  const hello = (c: WebcastClient, over: Record<string, unknown> = {}): void =>
    c.hello({ mime: 'audio/webm;codecs=opus', user: user.name, password: user.password, ...over });

  /** Go live on a mount, do something, then stop normally: "1000" if it survived. */
  async function liveCase(mount: string, act: (c: WebcastClient) => Promise<void>): Promise<Outcome> {
    return wsCase(mount, async (c) => {
      hello(c);
      await act(c);
      if (c.ws.readyState === WebSocket.OPEN) c.close(1000);
    });
  }

  /** An MP4 as a camera app writes it: sample tables in the moov, no fragments (can't be streamed). */
  async function plainMp4(): Promise<Buffer> {
    const f = join(mkdtempSync(join(tmpdir(), 'icewire-mp4-')), 'plain.mp4');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=duration=2', '-c:a', 'aac', '-movflags', '+faststart', f]);
    return readFileSync(f).subarray(0, 16384);
  }

  async function webmHead(): Promise<Buffer> {
    return readFileSync(await fixture('audio-webm', 10)).subarray(0, 4096);
  }

  const cases: Case[] = [
    { name: 'random bytes before hello', expected: '4400 IW_ERR_PROTO_EXPECTED_HELLO', run: () => wsCase(fresh(), (c) => c.ws.send(randomBytes(1000))) },
    { name: 'random bytes instead of WebM', expected: '4415 IW_ERR_INGEST_INVALID_MEDIA', run: () => wsCase(fresh(), (c) => { hello(c); c.ws.send(randomBytes(5000)); }) },
    { name: 'WebM magic then random bytes', expected: '4415 IW_ERR_INGEST_INVALID_MEDIA', run: () => wsCase(fresh(), (c) => { hello(c); c.ws.send(Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), randomBytes(5000)])); }) },
    { name: 'truncated WebM header then garbage', expected: '4415 IW_ERR_INGEST_INVALID_MEDIA', run: async () => { const h = await webmHead(); return wsCase(fresh(), (c) => { hello(c); c.ws.send(h.subarray(0, 40)); c.ws.send(Buffer.alloc(3000, 0xff)); }); } },
    { name: 'corrupted WebM (bytes flipped in the header)', expected: '4415 IW_ERR_INGEST_INVALID_MEDIA', run: async () => { const h = Buffer.from(await webmHead()); for (let i = 8; i < 200; i += 7) h[i] = h[i]! ^ 0xff; return wsCase(fresh(), (c) => { hello(c); c.ws.send(h); }); } },
    { name: 'Ogg data under a WebM mime', expected: '4415 IW_ERR_INGEST_INVALID_MEDIA', run: async () => { const ogg = readFileSync(await fixture('audio-ogg', 10)).subarray(0, 4096); return wsCase(fresh(), (c) => { hello(c); c.ws.send(ogg); }); } },
    { name: 'WebM data under an Ogg mime', expected: '4415 IW_ERR_INGEST_INVALID_MEDIA', run: async () => { const h = await webmHead(); return wsCase(fresh(), (c) => { hello(c, { mime: 'audio/ogg;codecs=opus' }); c.ws.send(h); }); } },
    { name: 'mime audio/wav', expected: '4415 IW_ERR_INGEST_UNSUPPORTED_MEDIA', run: () => wsCase(fresh(), (c) => hello(c, { mime: 'audio/wav' })) },
    { name: 'MP4 data with an AAC track announced as Opus', expected: '4415 IW_ERR_INGEST_INVALID_MEDIA', run: async () => { const mp4 = readFileSync(await uploadFixture('aac-mp4', 10)).subarray(0, 8192); return wsCase(fresh(), (c) => { hello(c, { mime: 'audio/mp4;codecs=opus' }); c.ws.send(mp4); }); } },
    { name: 'WebM data under an MP4 mime', expected: '4415 IW_ERR_INGEST_INVALID_MEDIA', run: async () => { const h = await webmHead(); return wsCase(fresh(), (c) => { hello(c, { mime: 'audio/mp4' }); c.ws.send(h); }); } },
    { name: 'a non-fragmented MP4 (sample tables in the moov)', expected: '4415 IW_ERR_INGEST_INVALID_MEDIA', run: async () => { const mp4 = await plainMp4(); return wsCase(fresh(), (c) => { hello(c, { mime: 'audio/mp4' }); c.ws.send(mp4); }); } },
    { name: 'mime video/webm;codecs=h264', expected: '4415 IW_ERR_INGEST_UNSUPPORTED_MEDIA', run: () => wsCase(fresh(), (c) => hello(c, { mime: 'video/webm;codecs=h264,opus' })) },
    { name: 'empty mime', expected: '4415 IW_ERR_INGEST_UNSUPPORTED_MEDIA', run: () => wsCase(fresh(), (c) => hello(c, { mime: '' })) },
    { name: 'mime is a number', expected: '4400 IW_ERR_PROTO_BAD_MESSAGE', run: () => wsCase(fresh(), (c) => hello(c, { mime: 42 })) },
    { name: 'hello without mime', expected: '4400 IW_ERR_PROTO_BAD_MESSAGE', run: () => wsCase(fresh(), (c) => c.ws.send(JSON.stringify({ type: 'hello', data: { user: 'x' } }))) },
    { name: 'binary frame over maxFrameBytes', expected: '4413 IW_ERR_PROTO_FRAME_TOO_LARGE', run: () => wsCase(fresh(), (c) => { hello(c); c.ws.send(Buffer.alloc(MAX_FRAME + 1)); }) },
    { name: 'text frame over maxFrameBytes', expected: '4413 IW_ERR_PROTO_FRAME_TOO_LARGE', run: () => wsCase(fresh(), (c) => c.ws.send('x'.repeat(MAX_FRAME + 1))) },
    { name: 'frame far over the limit (ws stops it unread)', expected: '1009', run: () => wsCase(fresh(), (c) => { hello(c); c.ws.send(Buffer.alloc(MAX_FRAME * 8)); }) },
    { name: 'text frame of 20 KiB', expected: '4400 IW_ERR_PROTO_BAD_MESSAGE', run: () => wsCase(fresh(), (c) => c.ws.send(JSON.stringify({ type: 'hello', data: { mime: 'audio/webm', name: 'n'.repeat(20000) } }))) },
    { name: 'invalid JSON', expected: '4400 IW_ERR_PROTO_BAD_MESSAGE', run: () => wsCase(fresh(), (c) => c.ws.send('{"type":"hello",')) },
    { name: 'JSON array', expected: '4400 IW_ERR_PROTO_BAD_MESSAGE', run: () => wsCase(fresh(), (c) => c.ws.send('[1,2,3]')) },
    { name: 'JSON null', expected: '4400 IW_ERR_PROTO_BAD_MESSAGE', run: () => wsCase(fresh(), (c) => c.ws.send('null')) },
    { name: 'type is a number', expected: '4400 IW_ERR_PROTO_BAD_MESSAGE', run: () => wsCase(fresh(), (c) => c.ws.send('{"type":5,"data":{}}')) },
    { name: 'data is a string', expected: '4400 IW_ERR_PROTO_BAD_MESSAGE', run: () => wsCase(fresh(), (c) => c.ws.send('{"type":"hello","data":"x"}')) },
    { name: 'deeply nested JSON', expected: '4400 IW_ERR_PROTO_BAD_MESSAGE', run: () => wsCase(fresh(), (c) => c.ws.send(`${'['.repeat(5000)}${']'.repeat(5000)}`)) },
    { name: 'invalid UTF-8 in a text frame', expected: '1007', run: () => wsCase(fresh(), (c) => c.ws.send(Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0x7d]), { binary: false })) },
    { name: 'user name of 1000 characters', expected: '4400 IW_ERR_PROTO_BAD_MESSAGE', run: () => wsCase(fresh(), (c) => hello(c, { user: 'u'.repeat(1000) })) },
    { name: 'password of 5000 characters', expected: '4400 IW_ERR_PROTO_BAD_MESSAGE', run: () => wsCase(fresh(), (c) => hello(c, { password: 'p'.repeat(5000) })) },
    { name: 'no hello at all', expected: '4400 IW_ERR_PROTO_HELLO_TIMEOUT', run: () => wsCase(fresh(), () => undefined) },
    { name: 'metadata instead of hello, then nothing', expected: '4400 IW_ERR_PROTO_HELLO_TIMEOUT', run: () => wsCase(fresh(), (c) => c.ws.send(JSON.stringify({ type: 'metadata', data: { title: 'x' } }))) },
    { name: 'wrong password', expected: '4401 IW_ERR_AUTH_FAILED', run: () => wsCase(fresh(), (c) => hello(c, { password: 'nope-nope' })) },
    { name: 'unknown user', expected: '4401 IW_ERR_AUTH_FAILED', run: () => wsCase(fresh(), (c) => hello(c, { user: 'mallory' })) },
    { name: 'empty user and password', expected: '4401 IW_ERR_AUTH_FAILED', run: () => wsCase(fresh(), (c) => hello(c, { user: '', password: '' })) },
    {
      name: `login brute force (${MAX_FAILED_LOGINS + 3} tries from one address)`, expected: `4429 IW_ERR_AUTH_RATE_LIMITED`, run: async () => {
        const addr = nextAddr();
        let last: Outcome = { got: '' };
        const m = fresh();
        for (let i = 0; i < MAX_FAILED_LOGINS + 3; i++) last = await wsCase(m, (c) => hello(c, { password: `guess-${i}` }), { addr });
        return last;
      },
    },
    { name: 'the right password after a brute force from that address', expected: '4429 IW_ERR_AUTH_RATE_LIMITED', run: async () => {
      const addr = nextAddr();
      const m = fresh();
      for (let i = 0; i < MAX_FAILED_LOGINS; i++) await wsCase(m, (c) => hello(c, { password: `guess-${i}` }), { addr });
      return wsCase(m, (c) => hello(c), { addr });
    } },
    { name: 'path traversal in the mount', expected: '4403 IW_ERR_MOUNT_UNKNOWN', run: () => wsCase('..%2F..%2Fetc%2Fpasswd', (c) => hello(c)) },
    { name: 'mount name of 300 characters', expected: '4403 IW_ERR_MOUNT_UNKNOWN', run: () => wsCase('a'.repeat(300), (c) => hello(c)) },
    { name: 'mount "constructor"', expected: '4403 IW_ERR_MOUNT_UNKNOWN', run: () => wsCase('constructor', (c) => hello(c)) },
    { name: 'mount allowed only to another broadcaster', expected: '4403 IW_ERR_MOUNT_FORBIDDEN', run: () => wsCase('m8', (c) => hello(c)) },
    { name: 'foreign Origin', expected: '4403 IW_ERR_ORIGIN_FORBIDDEN', run: () => wsCase(fresh(), (c) => hello(c), { origin: 'https://evil.example' }) },
    { name: 'Origin "null"', expected: '4403 IW_ERR_ORIGIN_FORBIDDEN', run: () => wsCase(fresh(), (c) => hello(c), { origin: 'null' }) },
    { name: 'the canary\'s busy mount', expected: '4409 IW_ERR_MOUNT_BUSY', run: () => wsCase('live', (c) => hello(c)) },
    { name: 'a forged resume token for the busy mount', expected: '4409 IW_ERR_MOUNT_BUSY', run: () => wsCase('live', (c) => hello(c, { resume: 'A'.repeat(24) })) },
    { name: 'subprotocol other than webcast', expected: 'client refuses: no subprotocol selected', run: () => wsCase(fresh(), () => undefined, { protocols: ['chat'] }) },
    { name: 'upgrade on a path that is not /ws/', expected: 'HTTP 404', run: async () => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/nope`, ['webcast']);
      return new Promise<Outcome>((resolve) => {
        ws.on('error', (err) => resolve({ got: `HTTP ${/(\d{3})/.exec(String(err))?.[1] ?? '?'}` }));
        ws.on('open', () => { ws.terminate(); resolve({ got: 'opened' }); });
      });
    } },
    { name: 'slow upgrade (headers one byte a second)', expected: 'closed by the server', run: async () => {
      const port = Number(new URL(base).port);
      const s = connect(port, '127.0.0.1');
      const head = `GET /ws/m1 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`;
      let i = 0;
      const t = setInterval(() => { if (i < head.length && !s.destroyed) s.write(head[i++]!); }, 1000);
      const closed = await new Promise<boolean>((resolve) => {
        s.on('close', () => resolve(true));
        s.on('error', () => undefined);
        setTimeout(() => resolve(false), 25000);
      });
      clearInterval(t);
      s.destroy();
      return { got: closed ? 'closed by the server' : 'still open after 25 s' };
    } },
    { name: `500 connections from one address`, expected: `${500 - MAX_CONNECTIONS_PER_ADDRESS}x4429 IW_ERR_LIMIT_CONNECTIONS, ${MAX_CONNECTIONS_PER_ADDRESS}x4400 IW_ERR_PROTO_HELLO_TIMEOUT`, run: async () => {
      const addr = nextAddr();
      const m = fresh();
      const results = await Promise.all(Array.from({ length: 500 }, () => wsCase(m, () => undefined, { addr })));
      const counts = new Map<string, number>();
      for (const r of results) counts.set(r.got, (counts.get(r.got) ?? 0) + 1);
      return { got: [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n}x${k}`).join(', ') };
    } },
    { name: '500 connections from 500 addresses', expected: '500x4400 IW_ERR_PROTO_HELLO_TIMEOUT', run: async () => {
      const m = fresh();
      const results = await Promise.all(Array.from({ length: 500 }, () => wsCase(m, () => undefined)));
      const counts = new Map<string, number>();
      for (const r of results) counts.set(r.got, (counts.get(r.got) ?? 0) + 1);
      return { got: [...counts.entries()].map(([k, n]) => `${n}x${k}`).join(', ') };
    } },
    { name: 'flood of 5000 unknown-type text frames while live', expected: '1000', run: async () => {
      const file = readFileSync(await fixture('audio-webm', 10));
      return liveCase(fresh(), async (c) => {
        await c.live();
        c.ws.send(file.subarray(0, 20000));
        for (let i = 0; i < 5000; i++) c.ws.send('{"type":"chat","data":{"x":1}}');
        await new Promise((r) => setTimeout(r, 300));
      });
    } },
    { name: 'flood of 2000 metadata frames while live', expected: '1000', run: async () => {
      const file = readFileSync(await fixture('audio-webm', 10));
      return liveCase(fresh(), async (c) => {
        await c.live();
        c.ws.send(file.subarray(0, 20000));
        for (let i = 0; i < 2000; i++) c.ws.send(JSON.stringify({ type: 'metadata', data: { title: `t${i}` } }));
        await new Promise((r) => setTimeout(r, 300));
      });
    } },
    { name: 'valid WebM in 1-byte frames', expected: '1000', run: async () => {
      const file = readFileSync(await fixture('audio-webm', 10)).subarray(0, 6000);
      return liveCase(fresh(), async (c) => {
        await c.live();
        for (const b of file) c.ws.send(Buffer.from([b]));
        await new Promise((r) => setTimeout(r, 300));
      });
    } },
    { name: 'live, then nothing more from the client', expected: '4408 IW_ERR_INGEST_IDLE', run: async () => {
      const head = readFileSync(await fixture('audio-webm', 10)).subarray(0, 8000);
      return wsCase(fresh(), async (c) => { hello(c); await c.live(); c.ws.send(head); });
    } },
    { name: 'empty binary frames, a second hello and unknown hello keys', expected: '1000', run: async () => liveCase(fresh(), async (c) => {
      await c.live();
      c.ws.send(Buffer.alloc(0));
      hello(c, { extra: { nested: true } });
      c.ws.send(readFileSync(await fixture('audio-webm', 10)).subarray(0, 8000));
      await new Promise((r) => setTimeout(r, 300));
    }) },
    { name: 'a client 10x faster than real time', expected: '1000', run: async () => liveCase(fresh(), async (c) => {
      await c.live();
      await c.stream(await fixture('audio-webm', 10), { seconds: 10, speed: 10 });
    }) },
    { name: 'ICY injection: a title with \';StreamUrl=\'…\';, CR/LF and NUL (MP3 listener)', expected: 'one StreamTitle field, no StreamUrl', run: async () => {
      // Icecast copies a title verbatim into `StreamTitle='…';`: unless the daemon neutralises it,
      // an MP3 listener's player sees a second field (StreamUrl) and the CR/LF, and NUL cuts it.
      let bad: string | undefined;
      const o = await liveCase('icy', async (c) => {
        await c.live();
        const streaming = c.stream(await fixture('audio-webm', 10), { seconds: 10, maxChunks: 24 });
        await waitForMount(icecast.url, icecast.adminPassword, '/icy.mp3');
        const icy = icyListen(`${icecast.url}/icy.mp3`);
        try {
          c.ws.send(JSON.stringify({ type: 'metadata', data: { title: "x';StreamUrl='http://evil.example/';\r\nStreamTitle='pwned';\u0000tail" } }));
          const block = (await icy.waitForBlock((b) => b.includes('evil'), 10000)).toString('latin1');
          const fields = icyFields(block);
          const one = fields.length === 1 && fields[0]!.key === 'StreamTitle' && block === `StreamTitle='${fields[0]!.value}';`;
          const clean = !/StreamUrl\s*=\s*'/i.test(block) && !/[\u0000-\u001f]/.test(block) && block.includes('tail');
          if (!one || !clean) bad = `ICY block ${JSON.stringify(block)}`;
        } finally {
          icy.stop();
          await streaming;
        }
      });
      return bad !== undefined ? { got: bad } : o.got === '1000' ? { got: 'one StreamTitle field, no StreamUrl' } : o;
    } },
    { name: '1 MiB of Opus claiming 2.5 h in 10 s, recorded in 1-min segments', expected: '1000, 1 recording file', run: async () => {
      // 14-byte packets of 120 ms each, 256 to a laced block: media time runs ~900x ahead of the clock
      // (when the ingest refuses such input, the close code here changes; the file count must not)
      const { chunks } = runawayStream('webm', 1 << 20);
      const outcome = await liveCase('rec', async (c) => {
        await c.live();
        for (const chunk of chunks) {
          if (c.ws.readyState !== WebSocket.OPEN) break;
          c.ws.send(chunk);
          await new Promise((r) => setTimeout(r, 10000 / chunks.length));
        }
      });
      // the recording is finished when its sidecar has an end
      const station = join(recordingsDir, 'rec');
      const names = (): string[] => readdirSync(station).filter((n) => RECORDING_FILE_RE.test(n));
      await waitFor('the recording to finish', () => names().every((n) => JSON.parse(readFileSync(join(station, `${n}.json`), 'utf8')).endedAt !== null), 15000);
      const n = names().length;
      return { got: `${outcome.got}, ${n} recording file${n === 1 ? '' : 's'}` };
    } },
    { name: '400 POST /api/login sending a byte every 2 s', expected: `400x408 IW_ERR_HTTP_TIMEOUT, all closed within ${SLOW_BODY_BOUND_MS / 1000} s`, run: async () => {
      const port = Number(new URL(base).port);
      const addr = nextAddr();
      const body = JSON.stringify({ user: user.name, password: 'x'.repeat(64) });
      const one = (): Promise<{ answer: string; ms: number }> => new Promise((resolve) => {
        const s = connect(port, '127.0.0.1');
        let text = '';
        let i = 0;
        let headAt = Date.now();
        s.write(`POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nX-Forwarded-For: ${addr}\r\n\r\n`, () => { headAt = Date.now(); });
        const t = setInterval(() => { if (i < body.length && !s.destroyed) s.write(body[i++]!); }, 2000);
        s.on('data', (d) => { text += d.toString(); });
        s.on('error', () => undefined);
        s.on('close', () => {
          clearInterval(t);
          resolve({ answer: `${/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 'no answer'}${/"code":"(IW_ERR_[A-Z_]+)"/.exec(text) ? ` ${/"code":"(IW_ERR_[A-Z_]+)"/.exec(text)![1]}` : ''}`, ms: Date.now() - headAt });
        });
        // the bound of this case: still open then is a failure
        setTimeout(() => { if (!s.destroyed) { s.destroy(); } }, 60000).unref();
      });
      const results = await Promise.all(Array.from({ length: 400 }, one));
      const counts = new Map<string, number>();
      for (const r of results) counts.set(r.answer, (counts.get(r.answer) ?? 0) + 1);
      const slowest = Math.max(...results.map((r) => r.ms));
      const answers = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n}x${k}`).join(', ');
      return { got: `${answers}, ${slowest <= SLOW_BODY_BOUND_MS ? `all closed within ${SLOW_BODY_BOUND_MS / 1000} s` : `the slowest closed after ${(slowest / 1000).toFixed(1)} s`}` };
    } },
    { name: 'abrupt disconnect mid-stream, no resume', expected: 'mount gone after the grace period', run: async () => {
      const m = fresh();
      const c = new WebcastClient(`${wsBase}${m}`, { headers: { 'X-Forwarded-For': nextAddr() } });
      await c.opened;
      hello(c);
      await c.live();
      c.ws.send(readFileSync(await fixture('audio-webm', 10)).subarray(0, 20000));
      await waitForMount(icecast.url, icecast.adminPassword, `/${m}.ogg`);
      c.ws.terminate();
      await waitFor('m2 gone', async () => !(await fetch(`${icecast.url}/admin/listmounts`, { headers: { Authorization: `Basic ${Buffer.from(`admin:${icecast.adminPassword}`).toString('base64')}` } }).then((r) => r.text())).includes(`/${m}.ogg`), 15000);
      return { got: 'mount gone after the grace period' };
    } },
  ];

  it(`${cases.length} hostile cases each get their documented answer`, async () => {
    // a few at a time: the 500-connection cases and the slow upgrade overlap the rest
    const queue = [...cases];
    const workers = Array.from({ length: 6 }, async () => {
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
        let got: string;
        try {
          got = (await c.run()).got;
        } catch (err) {
          got = `threw: ${(err as Error).message.slice(0, 80)}`;
        }
        rows.push({ name: c.name, expected: c.expected, got, ok: got === c.expected });
      }
    });
    await Promise.all(workers);
    const w = Math.max(...rows.map((r) => r.name.length));
    const we = Math.max(...rows.map((r) => r.expected.length));
    process.stdout.write(`\n       ${'case'.padEnd(w)}  ${'expected'.padEnd(we)}  got\n`);
    for (const r of rows) process.stdout.write(`      ${r.ok ? ' ' : '✗'}${r.name.padEnd(w)}  ${r.expected.padEnd(we)}  ${r.got}\n`);
    process.stdout.write(`      daemon RSS max ${maxRss.toFixed(0)} MB (bound ${RSS_BOUND_MB} MB)\n`);
    assert.ok(cases.length >= 40);
    assert.deepEqual(rows.filter((r) => !r.ok).map((r) => `${r.name}: expected ${r.expected}, got ${r.got}`), []);
  });

  it('the canary streamed throughout, its listener got one uninterrupted valid stream', async () => {
    assert.equal(canary.ws.readyState, WebSocket.OPEN, 'the canary broadcaster is still connected');
    assert.equal(canary.errors.length, 0);
    assert.equal(listener.ended(), false, 'the listener was never disconnected');
    canary.close();
    await canary.closed;
    await canaryStreaming;
    const got = await listener.done;
    const pages = oggPages(got);
    assert.equal(pages.filter((p) => p.bos).length, 1);
    // after the two header pages Icecast sends to a new listener, every page follows the last
    const seqs = pages.slice(2).map((p) => p.sequence);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1]! + 1, 'no page missing');
    const p = await probe(got);
    assert.deepEqual(p.streams.map((s) => s.codec), ['opus']);
    assert.ok(p.audioSeconds > 10, `${p.audioSeconds.toFixed(1)} s`);
  });

  it(`the daemon stayed under ${RSS_BOUND_MB} MB RSS and left no ffmpeg running`, async () => {
    assert.ok(maxRss > 0 && maxRss < RSS_BOUND_MB, `max RSS ${maxRss.toFixed(0)} MB`);
    await waitFor('no children', () => childPids(daemon.child.pid!).length === 0, 15000);
  });
});
