// Hostile input against a real daemon process (icewire serve) and a real icecast2, while a canary
// broadcast streams with a listener connected throughout. Every case must get its documented
// close code (or HTTP answer); afterwards the canary's listener has one uninterrupted valid
// stream, no ffmpeg is left, and the daemon's RSS stayed under a stated bound. Cases that measure
// the daemon as a whole (floods, memory, timing) run alone, after the others (memory: before
// them); what they measured is printed under the table. HOSTILE_ONLY=<part of a case's name> runs
// just the matching cases.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { fill } from '../helpers/fill-disk.js';
import { fixture, probe, uploadFixture } from '../helpers/media.js';
import { listen, waitFor, waitForMount, type Recording } from '../helpers/listener.js';
import { oggPages } from '../helpers/ogg-pages.js';
import { spawnDaemon, type DaemonProcess } from '../helpers/daemon-process.js';
import { floodLogins, httpAnswer, rawPost } from '../helpers/login-flood.js';
import { RawWebSocket, textFrame } from '../helpers/raw-websocket.js';
import { runawayStream } from '../helpers/runaway-opus.js';
import { secret } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';
import { icyFields, icyListen } from '../helpers/icy-listener.js';
import { startIcecast, type ManagedIcecast } from '../../server/icecast/managed-icecast.js';
import { hashPassword } from '../../server/auth/password-hash.js';
import { BODY_TIMEOUT_MS } from '../../server/http/request-deadlines.js';
import { RECORDING_FILE_RE } from '../../server/recorder/recording-names.js';

/** The stated bound: the daemon process stays under this RSS through the whole suite. */
const RSS_BOUND_MB = 300;
/** The bound under the pre-auth memory attack (issue 16), and how close to its start RSS must come back. */
const PRE_AUTH_RSS_BOUND_MB = 200;
const PRE_AUTH_RSS_BACK_MB = 40;
/** The target for what stays after the pre-auth attack (printed, met or not): within 20 MB of the start. */
const PRE_AUTH_RSS_BACK_TARGET_MB = 20;
const MAX_FRAME = 262144;
const HELLO_TIMEOUT_MS = 1500;
const MAX_CONNECTIONS_PER_ADDRESS = 20;
const MAX_FAILED_LOGINS = 5;
const MAX_FAILED_LOGINS_PER_ACCOUNT = 20;
/**
 * Under the login flood, the targets (a legitimate login in 1 s, the canary's listener never
 * waiting more than 0.5 s) are measured and printed with the table: timing on a 2-core machine
 * that also runs the attacker, Icecast and the browsers is not something a test can hold to, so
 * what is asserted is that nothing stalls (a login answered within 5 s, no gap over 3 s).
 */
const LOGIN_TARGET_MS = 1000;
const CANARY_GAP_TARGET_MS = 500;
const LOGIN_UNDER_FLOOD_MS = 5000;
/** A broadcaster going live (hello to live) in the middle of the flood: asserted within this, the target printed. */
const GO_LIVE_UNDER_FLOOD_MS = 5000;
const GO_LIVE_TARGET_MS = 1000;
const CANARY_GAP_MS = 3000;
/** A slow request body is cut this long after its head at the latest (the deadline, plus the close). */
const SLOW_BODY_BOUND_MS = BODY_TIMEOUT_MS + 2000;

interface Outcome { got: string; detail?: string; /** What it measured, printed under the table. */ note?: string; /** Why it could not run here (printed, not a failure). */ skipped?: string }
interface Case {
  name: string;
  expected: string;
  run: () => Promise<Outcome>;
  /** Runs alone, after the others (it measures the whole daemon). */
  alone?: boolean;
  /** Runs alone before all the others (it measures memory against the daemon's start). */
  first?: boolean;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** `count` x `answer`, most frequent first. */
function tally(answers: string[]): string {
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n}x${k}`).join(', ');
}

/** CPU time (ms) a process has used so far: its main thread (the event loop), and all its other threads (libuv's pool, where the password checks run; V8's helpers). */
function threadCpuMs(pid: number): { main: number; others: number } {
  const out = { main: 0, others: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime, fields 14 and 15 of stat (11 and 12 after the name), in clock ticks
      const ms = ((Number(f[11]) + Number(f[12])) * 1000) / 100;
      if (tid === String(pid)) out.main += ms;
      else out.others += ms;
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** What a process's threads used between two threadCpuMs() readings. */
function cpuDelta(before: { main: number; others: number }, after: { main: number; others: number }): string {
  return `main thread ${(after.main - before.main).toFixed(0)} ms, other threads ${(after.others - before.others).toFixed(0)} ms`;
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
  const other = { name: 'other', password: secret() };
  /** The canary listener's data arrivals: the largest gap while `gaps.on`. */
  const gaps = { on: false, last: 0, max: 0 };
  const rows: { name: string; expected: string; got: string; ok: boolean }[] = [];
  /** Temporary directories to remove afterwards. */
  const tmpDirs: string[] = [];
  let fullDir = '';
  let fullMounted = false;
  let fullSkipped: string | undefined;
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
    // video through one ffmpeg (WebM remux): the case that stops that ffmpeg to fill the pipeline
    mounts.slowv = { renditions: [{ mount: '/slowv.webm', format: 'webm' }] };
    // recorded into a directory that is a full tmpfs of its own (the disk-full case; needs root)
    mounts.full = { renditions: [{ mount: '/full.ogg', format: 'ogg-opus' }], record: true };
    recordingsDir = join(dir, 'recordings');
    tmpDirs.push(dir);
    fullDir = join(recordingsDir, 'full');
    if (process.getuid?.() === 0) {
      mkdirSync(fullDir, { recursive: true });
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=65536,mode=0750', 'tmpfs', fullDir], { stdio: 'ignore' });
        fullMounted = true;
        fill(fullDir);
      } catch (err) {
        fullSkipped = `cannot mount a tmpfs here: ${(err as Error).message.split('\n')[0]}`;
      }
    } else {
      fullSkipped = 'mounting a small tmpfs to fill needs root (CI runs as root)';
    }
    const config = {
      listen: { host: '127.0.0.1', port: 0 },
      trustProxy: true,
      icecast: { url: icecast.url, statsIntervalMs: 1000 },
      broadcasters: [
        { name: user.name, passwordHash: await hashPassword(user.password), mounts: Object.keys(mounts).filter((m) => m !== 'm8') },
        { name: other.name, passwordHash: await hashPassword(other.password), mounts: ['m8'] },
      ],
      mounts,
      recordings: { dir: recordingsDir },
      limits: {
        maxFrameBytes: MAX_FRAME, helloTimeoutMs: HELLO_TIMEOUT_MS, maxConnectionsPerAddress: MAX_CONNECTIONS_PER_ADDRESS,
        maxFailedLogins: MAX_FAILED_LOGINS, maxFailedLoginsPerAccount: MAX_FAILED_LOGINS_PER_ACCOUNT,
        maxBroadcasts: 20, idleTimeoutMs: 3000, reconnectGraceMs: 2000,
      },
    };
    // as installed: with the memory settings of its launcher (main.js's #! line), as the RSS cases measure it
    daemon = await spawnDaemon({ config, asInstalled: true, env: { ICEWIRE_ICECAST_SOURCE_PASSWORD: icecast.sourcePassword } });
    base = daemon.url;
    wsBase = daemon.wsBase;
    rssTimer = setInterval(() => { maxRss = Math.max(maxRss, rssMb(daemon.child.pid!)); }, 100);

    // longer than the suite takes: it must still be streaming when the last case ends (made
    // before the canary connects: it would sit idle meanwhile)
    const canaryFile = await fixture('audio-webm', 600);
    canary = new WebcastClient(`${wsBase}live`, { headers: { 'X-Forwarded-For': '192.0.2.1' } });
    await canary.opened;
    canary.hello({ mime: 'audio/webm;codecs=opus', user: user.name, password: user.password });
    canaryStreaming = canary.stream(canaryFile, { seconds: 600 });
    await canary.live();
    await waitForMount(icecast.url, icecast.adminPassword, '/live.ogg');
    listener = listen(`${icecast.url}/live.ogg`, {
      onData: () => {
        const now = Date.now();
        if (gaps.on) gaps.max = Math.max(gaps.max, now - gaps.last);
        gaps.last = now;
      },
    });
  });

  after(async () => {
    clearInterval(rssTimer);
    canary?.close();
    listener?.stop();
    await daemon?.stop();
    await icecast?.stop();
    if (fullMounted) {
      try {
        execFileSync('umount', [fullDir]);
      } catch {
        execFileSync('umount', ['-l', fullDir]);
      }
    }
    for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
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

  /** The `broadcast ended` log line of a station mount's last broadcast. */
  const endLine = (mount: string): { reason: string; maxMediaLeadMs: number } | undefined => daemon.output().split('\n')
    .filter((l) => l.includes('"broadcast ended"') && l.includes(`"mount":"${mount}"`)).map((l) => JSON.parse(l) as { reason: string; maxMediaLeadMs: number }).pop();

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
    const dir = mkdtempSync(join(tmpdir(), 'icewire-mp4-'));
    try {
      const f = join(dir, 'plain.mp4');
      execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=duration=2', '-c:a', 'aac', '-movflags', '+faststart', f]);
      return readFileSync(f).subarray(0, 16384);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
      return { got: tally(results.map((r) => r.got)) };
    } },
    { name: '500 connections from 500 addresses', expected: '500x4400 IW_ERR_PROTO_HELLO_TIMEOUT', run: async () => {
      const m = fresh();
      const results = await Promise.all(Array.from({ length: 500 }, () => wsCase(m, () => undefined)));
      return { got: tally(results.map((r) => r.got)) };
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
    { name: 'a client 10x faster than real time', expected: '1000', run: async () => {
      const m = fresh();
      const o = await liveCase(m, async (c) => {
        await c.live();
        await c.stream(await fixture('audio-webm', 10), { seconds: 10, speed: 10 });
      });
      // how far its media time ran ahead of the clock (inside the ingest-too-fast bound)
      const lead = await waitFor('its end line', () => endLine(m)?.maxMediaLeadMs, 10000).catch(() => undefined);
      return { ...o, note: `maxMediaLeadMs ${lead ?? '?'} (10 s of audio sent in 1 s)` };
    } },
    { name: 'ICY injection: a title with \';StreamUrl=\'…\';, CR/LF and NUL (MP3 listener)', expected: 'one StreamTitle field, no StreamUrl', run: async () => {
      // Icecast copies a title verbatim into `StreamTitle='…';`: unless the daemon neutralises it,
      // an MP3 listener's player sees a second field (StreamUrl) and the CR/LF, and NUL cuts it.
      let bad: string | undefined;
      const o = await liveCase('icy', async (c) => {
        // a transcoded rendition is live once media flows: stream first
        const streaming = c.stream(await fixture('audio-webm', 10), { seconds: 10, maxChunks: 24 });
        await c.live();
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
    { name: '1 MiB of Opus claiming 2.5 h in 10 s, recorded in 1-min segments', expected: '4429 IW_ERR_INGEST_TOO_FAST, 1 recording file', run: async () => {
      // 14-byte packets of 120 ms each, 256 to a laced block: media time runs ~900x ahead of the
      // clock; refused once it is MEDIA_LEAD_MS ahead (the first chunk), one file either way
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
    { name: 'disk full: a recorded show starts while its station\'s disk is full', expected: '1000; nothing written, nothing half-written; listed and logged failed: disk-full', run: async () => {
      if (!fullMounted) return { got: 'skipped', skipped: fullSkipped ?? 'no tmpfs' };
      const before = readdirSync(fullDir);
      const logged = (): boolean => daemon.output().split('\n').some((l) => l.includes('recording stopped: cannot create the file') && l.includes('"station":"full"') && l.includes('"reason":"disk-full"'));
      const o = await liveCase('full', async (c) => {
        await c.live();
        const streaming = c.stream(await fixture('audio-webm', 10), { seconds: 10, maxChunks: 12 });
        await waitFor('the failure in the log', logged, 10000).catch(() => undefined);
        await streaming;
      });
      const after = readdirSync(fullDir);
      const addr = nextAddr();
      const login = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': addr }, body: JSON.stringify({ user: user.name, password: user.password }) });
      const { token } = (await login.json()) as { token: string };
      const list = await fetch(`${base}/api/recordings`, { headers: { Authorization: `Bearer ${token}`, 'X-Forwarded-For': addr } });
      const entries = ((await list.json()) as { recordings: { name: string | null; stationMount: string; failed: { reason: string } | null }[] }).recordings.filter((e) => e.stationMount === 'full');
      const listed = entries.length === 1 && entries[0]!.name === null && entries[0]!.failed?.reason === 'disk-full';
      const untouched = after.join(',') === before.join(',');
      const ok = o.got === '1000' && untouched && listed && logged();
      return { got: ok ? '1000; nothing written, nothing half-written; listed and logged failed: disk-full' : `${o.got}; on disk ${after.join(',')}; listed ${JSON.stringify(entries)}; logged ${logged()}` };
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
          resolve({ answer: httpAnswer(text), ms: Date.now() - headAt });
        });
        // the bound of this case: still open then is a failure
        setTimeout(() => { if (!s.destroyed) { s.destroy(); } }, 60000).unref();
      });
      const results = await Promise.all(Array.from({ length: 400 }, one));
      const slowest = Math.max(...results.map((r) => r.ms));
      const answers = tally(results.map((r) => r.answer));
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
    { name: 'guesses at another name interleaved with logins to one\'s own account', alone: true, expected: `${Array(MAX_FAILED_LOGINS - 1).fill('401').join(',')},200,401,429`, run: async () => {
      // a success clears only its own account's failures: the guesses at "mallory" go on counting
      const port = Number(new URL(base).port);
      const addr = nextAddr();
      const seq: string[] = [];
      for (let i = 0; i < MAX_FAILED_LOGINS - 1; i++) seq.push(await rawPost(port, '/api/login', { user: 'mallory', password: `guess-${i}` }, addr));
      seq.push(await rawPost(port, '/api/login', { user: user.name, password: user.password }, addr));
      seq.push(await rawPost(port, '/api/login', { user: 'mallory', password: 'guess-a' }, addr));
      seq.push(await rawPost(port, '/api/login', { user: 'mallory', password: 'guess-b' }, addr));
      return { got: seq.map((a) => a.split(' ')[0]).join(',') };
    } },
    {
      name: `one account guessed from ${MAX_FAILED_LOGINS_PER_ACCOUNT + 4} addresses at once`,
      alone: true,
      expected: `${MAX_FAILED_LOGINS_PER_ACCOUNT}x401 IW_ERR_AUTH_FAILED, 4x429 IW_ERR_AUTH_RATE_LIMITED; its owner: 200 from an address used before, 429 from a new one`,
      run: async () => {
        // the per-account count locks the account for addresses it never logged in from, not for its owner
        const port = Number(new URL(base).port);
        const home = nextAddr();
        const before = await rawPost(port, '/api/login', { user: other.name, password: other.password }, home);
        const guesses = await Promise.all(Array.from({ length: MAX_FAILED_LOGINS_PER_ACCOUNT + 4 }, (_, i) => rawPost(port, '/api/login', { user: other.name, password: `guess-${i}` }, nextAddr())));
        const fromHome = await rawPost(port, '/api/login', { user: other.name, password: other.password }, home);
        const fromNew = await rawPost(port, '/api/login', { user: other.name, password: other.password }, nextAddr());
        const owner = `${fromHome.split(' ')[0]} from an address used before, ${fromNew.split(' ')[0]} from a new one`;
        return { got: `${before === '200' ? '' : `first login ${before}; `}${tally(guesses)}; its owner: ${owner}` };
      },
    },
    { name: 'a password typed into the user field (WebSocket and POST /api/login)', expected: 'refused both ways, logged only as a short hash', run: async () => {
      const port = Number(new URL(base).port);
      const typed = `pw-${secret()}`;
      const addr = nextAddr();
      const ws = await wsCase('flood', (c) => hello(c, { user: typed }), { addr });
      const http = await rawPost(port, '/api/login', { user: typed, password: 'x' }, addr);
      const refusals = (): string[] => daemon.output().split('\n').filter((l) => l.includes('"login refused"') && l.includes(`"addr":"${addr}"`));
      await waitFor('both refusals in the log', () => refusals().length >= 2, 5000).catch(() => undefined);
      const hashed = refusals().filter((l) => /"user":"#[A-Za-z0-9_-]{10}"/.test(l)).length;
      const ok = ws.got === '4401 IW_ERR_AUTH_FAILED' && http === '401 IW_ERR_AUTH_FAILED' && hashed === 2 && !daemon.output().includes(typed);
      return { got: ok ? 'refused both ways, logged only as a short hash' : `${ws.got} / ${http}, ${hashed} hashed refusal lines, typed name in the log: ${daemon.output().includes(typed)}` };
    } },
    {
      name: 'concurrent logins from one address: 8 right ones (4 POST /api/login, 4 hellos), then 8 wrong ones',
      expected: `8 right: 4x200, 4xlive; 8 wrong: ${MAX_FAILED_LOGINS} checked, ${8 - MAX_FAILED_LOGINS} refused 429/4429 (HTTP: a sentence and Retry-After)`,
      run: async () => {
        // pending checks fill the address's allowance: the others wait for them, and successes free their places
        const login = async (addr: string, password: string): Promise<string> => {
          const res = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': addr }, body: JSON.stringify({ user: user.name, password }) });
          const body = (await res.json()) as { error?: { code: string; message: string } };
          if (res.status !== 429) return String(res.status);
          const retry = Number(res.headers.get('retry-after'));
          const sentence = /^[A-Z].{20,}\.$/.test(body.error?.message ?? '');
          return `429${retry >= 1 ? '' : ' without Retry-After'}${sentence ? '' : ' without a sentence'}`;
        };
        const hi = async (addr: string, password: string, mount: string): Promise<string> => {
          const o = await wsCase(mount, async (c) => {
            hello(c, { password });
            await c.live().catch(() => undefined);
            if (c.ws.readyState === WebSocket.OPEN) c.close(1000);
          }, { addr });
          return o.got === '1000' ? 'live' : o.got.split(' ')[0]!;
        };
        const home = nextAddr();
        const right = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? login(home, user.password) : hi(home, user.password, fresh()))));
        const away = nextAddr();
        const wrong = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? login(away, `guess-${i}`) : hi(away, `guess-${i}`, fresh()))));
        // and one more afterwards: refused at once, over the failure limit
        const after = await login(away, `guess-8`);
        const logged = daemon.output().split('\n').filter((l) => l.includes('"code":"IW_ERR_AUTH_FAILED"') && l.includes(`"addr":"${away}"`)).length;
        const checked = wrong.filter((w) => w === '401' || w === '4401').length;
        const limited = wrong.filter((w) => w.startsWith('429') || w === '4429');
        const ok = tally(right) === '4x200, 4xlive' && checked === MAX_FAILED_LOGINS && logged === MAX_FAILED_LOGINS
          && limited.length === 8 - MAX_FAILED_LOGINS && limited.every((w) => w === '429' || w === '4429') && after === '429';
        return { got: ok ? `8 right: 4x200, 4xlive; 8 wrong: ${MAX_FAILED_LOGINS} checked, ${8 - MAX_FAILED_LOGINS} refused 429/4429 (HTTP: a sentence and Retry-After)` : `right: ${tally(right)}; wrong: ${tally(wrong)} (${logged} checked by the log); then ${after}` };
      },
    },
    {
      name: 'login flood: 800 guesses at once from 4 addresses over both doors', alone: true,
      expected: `≤ ${MAX_FAILED_LOGINS} checked per address, a legitimate login ≤ ${LOGIN_UNDER_FLOOD_MS / 1000} s, a go-live ≤ ${GO_LIVE_UNDER_FLOOD_MS / 1000} s, canary gap ≤ ${CANARY_GAP_MS / 1000} s (no stall)`,
      run: async () => {
        const port = Number(new URL(base).port);
        const addrs = Array.from({ length: 4 }, nextAddr);
        const pid = daemon.child.pid!;
        // the gap counts from the listener's last page: it must be getting them already (a run of
        // this case alone starts as soon as the canary's first pages are out)
        await waitFor('the canary listener receiving pages', () => gaps.last > 0 && Date.now() - gaps.last < 300, 10000, 20);
        const cpuBefore = threadCpuMs(pid);
        gaps.max = 0;
        gaps.on = true;
        const t0 = Date.now();
        // WebSocket hellos up to each address's connection limit, the rest POST /api/login, from a
        // process of its own; once they are all on their way, a broadcaster logs in from an address
        // of their own, and another goes live (hello to live, through the WebSocket ingest)
        let legitimate!: Promise<{ answer: string; ms: number }>;
        let goLive!: Promise<{ answer: string; ms: number }>;
        const mount = fresh();
        const answers = await floodLogins({ port, addrs, perAddress: 200, wsPerAddress: MAX_CONNECTIONS_PER_ADDRESS, wsPath: '/ws/flood' }, () => {
          const sentAt = Date.now();
          legitimate = rawPost(port, '/api/login', { user: user.name, password: user.password }, nextAddr()).then((answer) => ({ answer, ms: Date.now() - sentAt }));
          const c = new WebcastClient(`${wsBase}${mount}`, { headers: { 'X-Forwarded-For': nextAddr() } });
          goLive = c.opened.then(() => {
            hello(c);
            return c.live(GO_LIVE_UNDER_FLOOD_MS * 2);
          }).then(() => ({ answer: 'live', ms: Date.now() - sentAt }), (err: unknown) => ({ answer: c.errors[0]?.code ?? String(err).slice(0, 60), ms: Date.now() - sentAt }))
            .finally(() => c.close(1000));
        });
        const { answer: legit, ms: loginMs } = await legitimate;
        const { answer: live, ms: liveMs } = await goLive;
        gaps.on = false;
        const cpu = cpuDelta(cpuBefore, threadCpuMs(pid));
        const took = `from ${new Date(t0).toISOString()} (${t0}), ${Date.now() - t0} ms`;
        // checked = refused after its password was checked, by the clients' answers and by the daemon's own log
        const checked = addrs.map((a) => answers.filter((x) => x === `${a} IW_ERR_AUTH_FAILED`).length);
        const logged = addrs.map((a) => daemon.output().split('\n').filter((l) => l.includes('"code":"IW_ERR_AUTH_FAILED"') && l.includes(`"addr":"${a}"`)).length);
        const ok = checked.every((c, i) => c <= MAX_FAILED_LOGINS && c === logged[i]) && legit === '200' && loginMs <= LOGIN_UNDER_FLOOD_MS
          && live === 'live' && liveMs <= GO_LIVE_UNDER_FLOOD_MS && gaps.max <= CANARY_GAP_MS;
        const met = (ms: number, target: number): string => `${ms} ms, target ${target} ms ${ms <= target ? 'met' : 'NOT met'}`;
        const measured = `checked per address ${checked.join('/')} (daemon log ${logged.join('/')}) of 200 each; answers ${tally(answers.map((a) => a.split(' ')[1]!))}; `
          + `legitimate login ${legit} in ${met(loginMs, LOGIN_TARGET_MS)}; go-live ${live} in ${met(liveMs, GO_LIVE_TARGET_MS)}; `
          + `canary listener's largest gap ${met(gaps.max, CANARY_GAP_TARGET_MS)}; the flood ${took}, daemon CPU meanwhile: ${cpu}`;
        return { got: ok ? `≤ ${MAX_FAILED_LOGINS} checked per address, a legitimate login ≤ ${LOGIN_UNDER_FLOOD_MS / 1000} s, a go-live ≤ ${GO_LIVE_UNDER_FLOOD_MS / 1000} s, canary gap ≤ ${CANARY_GAP_MS / 1000} s (no stall)` : measured, note: measured };
      },
    },
    {
      name: 'login flood from 100 addresses at once (the check queue fills)', alone: true,
      expected: `some told 503 IW_ERR_AUTH_BUSY at once, the rest checked; the owner from their usual address ≤ ${LOGIN_UNDER_FLOOD_MS / 1000} s (target ${LOGIN_TARGET_MS / 1000} s)`,
      run: async () => {
        const port = Number(new URL(base).port);
        const guesses = Array.from({ length: 100 }, (_, i) => rawPost(port, '/api/login', { user: `admin${i}`, password: 'guess' }, nextAddr()));
        // the canary's address went live as this broadcaster: its check goes first
        const t0 = Date.now();
        const owner = await rawPost(port, '/api/login', { user: user.name, password: user.password }, '192.0.2.1');
        const ownerMs = Date.now() - t0;
        const answers = await Promise.all(guesses);
        const busy = answers.filter((a) => a === '503 IW_ERR_AUTH_BUSY').length;
        const checked = answers.filter((a) => a === '401 IW_ERR_AUTH_FAILED').length;
        const ok = busy > 0 && busy + checked === 100 && owner === '200' && ownerMs <= LOGIN_UNDER_FLOOD_MS;
        const measured = `${tally(answers)}; the owner ${owner} in ${ownerMs} ms (target ${LOGIN_TARGET_MS} ms ${ownerMs <= LOGIN_TARGET_MS ? 'met' : 'NOT met'})`;
        return { got: ok ? `some told 503 IW_ERR_AUTH_BUSY at once, the rest checked; the owner from their usual address ≤ ${LOGIN_UNDER_FLOOD_MS / 1000} s (target ${LOGIN_TARGET_MS / 1000} s)` : measured, note: measured };
      },
    },
    {
      name: 'pre-auth memory: 127.0.0.2/.3/.4 x 20 sockets, a wrong user then 7.75 MiB each, never answering the close', first: true,
      expected: `RSS ≤ ${PRE_AUTH_RSS_BOUND_MB} MB during, within ${PRE_AUTH_RSS_BACK_MB} MB of its start after; all 60 cut by the daemon`,
      run: async () => {
        const port = Number(new URL(base).port);
        const pid = daemon.child.pid!;
        const start = rssMb(pid);
        let peak = start;
        const sampler = setInterval(() => { peak = Math.max(peak, rssMb(pid)); }, 50);
        const sockets: RawWebSocket[] = [];
        // three real source addresses on loopback, no proxy header: the daemon sees three peers
        for (const localAddress of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
          for (let i = 0; i < MAX_CONNECTIONS_PER_ADDRESS; i++) {
            const hi = textFrame(JSON.stringify({ type: 'hello', data: { mime: 'audio/webm;codecs=opus', user: `nobody${i}`, password: 'wrong' } }));
            sockets.push(new RawWebSocket(port, '/ws/flood', { localAddress, first: [hi] }));
          }
        }
        // every fourth socket sends nothing more: only the closing-handshake bound ends it
        const sending = sockets.map((s, i) => (i % 4 === 3 ? Promise.resolve(0) : s.sendBinary(7.75 * 1024 * 1024, MAX_FRAME)));
        const outcomes = await Promise.race([
          Promise.all(sockets.map((s) => s.ended)),
          new Promise<undefined>((r) => setTimeout(() => r(undefined), 30000)),
        ]);
        for (const s of sockets) s.destroy();
        await Promise.all(sending);
        const during = peak;
        // back down: what the attack allocated is garbage once its sockets are gone
        await waitFor('RSS back near its start', () => rssMb(pid) <= start + PRE_AUTH_RSS_BACK_TARGET_MB, 20000, 250).catch(() => undefined);
        clearInterval(sampler);
        const after = rssMb(pid);
        const slowest = outcomes === undefined ? Infinity : Math.max(...outcomes.map((o) => o.closedAfterMs));
        const measured = `RSS ${start.toFixed(0)} MB before, ${during.toFixed(0)} MB at the peak, ${after.toFixed(0)} MB after; ${outcomes === undefined ? 'not all cut within 30 s' : `answers ${tally(outcomes.map((o) => `${o.code} ${o.errorCode}`))}, the last cut after ${(slowest / 1000).toFixed(1)} s`}`;
        const ok = during <= PRE_AUTH_RSS_BOUND_MB && after <= start + PRE_AUTH_RSS_BACK_MB && outcomes !== undefined;
        const back = `${(after - start).toFixed(0)} MB over the start after, target ${PRE_AUTH_RSS_BACK_TARGET_MB} MB ${after - start <= PRE_AUTH_RSS_BACK_TARGET_MB ? 'met' : 'NOT met'}`;
        return { got: ok ? `RSS ≤ ${PRE_AUTH_RSS_BOUND_MB} MB during, within ${PRE_AUTH_RSS_BACK_MB} MB of its start after; all 60 cut by the daemon` : measured, note: `${measured} (${back})` };
      },
    },
    { name: 'Stop while the station is full (its ffmpeg stopped)', alone: true, expected: 'closed 1000 at once, the broadcast ended stopped', run: async () => {
      const pid = daemon.child.pid!;
      const before = new Set(childPids(pid));
      const file = readFileSync(await fixture('video-webm-3mbps', 30));
      const c = new WebcastClient(`${wsBase}slowv`, { headers: { 'X-Forwarded-For': nextAddr() } });
      await c.opened;
      hello(c, { mime: 'video/webm;codecs=vp8,opus' });
      // video in real time until the rendition is live and a second has gone: its ffmpeg is up and reading
      let isLive = false;
      const live = c.live().then(() => { isLive = true; });
      live.catch(() => undefined);
      const quarter = Math.floor(file.length / 30 / 4);
      let at = 0;
      for (let i = 0; (i < 4 || !isLive) && i < 40 && c.ws.readyState === WebSocket.OPEN; i++, at += quarter) {
        c.ws.send(file.subarray(at, at + quarter));
        await new Promise((r) => setTimeout(r, 250));
      }
      await live;
      const ffmpeg = childPids(pid).filter((p) => !before.has(p) && readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'ffmpeg');
      if (ffmpeg.length !== 1) return { got: `${ffmpeg.length} new ffmpeg processes` };
      process.kill(ffmpeg[0]!, 'SIGSTOP');
      let closedMs: number;
      let code: number | undefined;
      try {
        // 3 MB more: ffmpeg's stdin (its 64 KiB pipe and FfmpegProcess's 256 KiB) fills, the broadcast is full, and
        // what follows is held (a paused socket would never see the close frame behind it)
        for (let i = 0; i < 30; i++, at += 100000) c.ws.send(file.subarray(at, at + 100000));
        await new Promise((r) => setTimeout(r, 500));
        const t0 = Date.now();
        c.close(1000);
        const closed = await Promise.race([c.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
        closedMs = Date.now() - t0;
        code = closed?.code;
      } finally {
        process.kill(ffmpeg[0]!, 'SIGCONT');
      }
      const reason = await waitFor('the broadcast to end', () => endLine('slowv')?.reason, 15000).catch(() => 'not ended');
      return { got: code === 1000 && closedMs <= 2000 && reason === 'stopped' ? 'closed 1000 at once, the broadcast ended stopped' : `closed ${code ?? 'not'} after ${closedMs} ms, ended ${reason}` };
    } },
    {
      name: 'passthrough: 20 wrong-password hellos on .mp3 mounts', alone: true,
      expected: '20x4401 IW_ERR_ICECAST_AUTH, 0 ffmpeg run; then the right password: 1 transcoding ffmpeg',
      run: async () => {
        // a second daemon, in passthrough mode, whose ffmpeg is a wrapper that counts its runs
        const dir = mkdtempSync(join(tmpdir(), 'icewire-passthrough-'));
        tmpDirs.push(dir);
        const runs = join(dir, 'ffmpeg-runs');
        const wrapper = join(dir, 'ffmpeg');
        writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> '${runs}'\nexec ffmpeg "$@"\n`);
        chmodSync(wrapper, 0o755);
        // every run, and the transcoders among them (the first broadcast also asks ffmpeg for its -formats and -encoders, once)
        const lines = (): string[] => (existsSync(runs) ? readFileSync(runs, 'utf8').split('\n').filter(Boolean) : []);
        const count = (): number => lines().length;
        const transcoders = (): number => lines().filter((l) => l.includes('pipe:0')).length;
        const pt = await spawnDaemon({ config: { listen: { host: '127.0.0.1', port: 0 }, icecast: { url: icecast.url }, auth: { mode: 'passthrough' }, ffmpegPath: wrapper, trustProxy: true } });
        try {
          const wrong = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
            const c = new WebcastClient(`${pt.wsBase}p${i}.mp3`, { headers: { 'X-Forwarded-For': nextAddr() } });
            await c.opened;
            c.hello({ mime: 'audio/webm;codecs=opus', user: 'source', password: `wrong-${i}` });
            const closed = await c.closed;
            return `${closed.code} ${c.errors[0]?.code}`;
          }));
          const afterWrong = count();
          const c = new WebcastClient(`${pt.wsBase}pok.mp3`, { headers: { 'X-Forwarded-For': nextAddr() } });
          await c.opened;
          c.hello({ mime: 'audio/webm;codecs=opus', user: 'source', password: icecast.sourcePassword });
          await c.live();
          await c.stream(await fixture('audio-webm', 10), { seconds: 10, maxChunks: 4 });
          const afterRight = transcoders();
          c.close(1000);
          await c.closed;
          const got = `${tally(wrong)}, ${afterWrong} ffmpeg run; then the right password: ${afterRight} transcoding ffmpeg`;
          const why = afterRight === 1 ? undefined : `runs: ${readFileSync(runs, 'utf8').trim().split('\n').map((l) => l.slice(0, 60)).join(' | ')}; log: ${pt.output().split('\n').filter((l) => /ffmpeg/i.test(l)).map((l) => l.slice(0, 200)).join(' | ')}`;
          return { got, ...(why !== undefined ? { note: why } : {}) };
        } finally {
          await pt.stop();
        }
      },
    },
  ];

  it(`${cases.length} hostile cases each get their documented answer`, async () => {
    const notes: string[] = [];
    const runCase = async (c: Case): Promise<void> => {
      let got: string;
      let skipped: string | undefined;
      try {
        const o = await c.run();
        got = o.got;
        skipped = o.skipped;
        if (o.note !== undefined) notes.push(`${c.name}: ${o.note}`);
      } catch (err) {
        got = `threw: ${(err as Error).message.slice(0, 80)}`;
      }
      if (skipped !== undefined) notes.push(`${c.name}: skipped: ${skipped}`);
      rows.push({ name: c.name, expected: c.expected, got, ok: got === c.expected || skipped !== undefined });
    };
    const only = process.env.HOSTILE_ONLY;
    const chosen = only === undefined ? cases : cases.filter((c) => c.name.includes(only));
    for (const c of chosen.filter((x) => x.first === true)) await runCase(c);
    // a few at a time: the 500-connection cases and the slow upgrade overlap the rest
    const queue = chosen.filter((c) => c.alone !== true && c.first !== true);
    await Promise.all(Array.from({ length: 6 }, async () => {
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) await runCase(c);
    }));
    for (const c of chosen.filter((x) => x.alone === true)) await runCase(c);
    const w = Math.max(...rows.map((r) => r.name.length));
    const we = Math.max(...rows.map((r) => r.expected.length));
    process.stdout.write(`\n       ${'case'.padEnd(w)}  ${'expected'.padEnd(we)}  got\n`);
    for (const r of rows) process.stdout.write(`      ${r.ok ? ' ' : '✗'}${r.name.padEnd(w)}  ${r.expected.padEnd(we)}  ${r.got}\n`);
    for (const n of notes) process.stdout.write(`      ${n}\n`);
    process.stdout.write(`      daemon RSS max ${maxRss.toFixed(0)} MB (bound ${RSS_BOUND_MB} MB)\n`);
    assert.ok(only !== undefined || cases.length >= 40);
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
