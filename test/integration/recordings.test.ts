// Show recordings against a real icecast2 and real ffmpeg renditions, judged on the files on disk
// with ffprobe: a whole show, a daemon stopped by SIGTERM mid-show, an ffmpeg killed mid-show, a
// video show; then the download API as broadcasters (and attackers) use it.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnDaemon } from '../helpers/daemon-process.js';
import { fixture, probe } from '../helpers/media.js';
import { waitFor, waitForMount } from '../helpers/listener.js';
import { oggPages } from '../helpers/ogg-pages.js';
import { secret, startStack, type Stack } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';
import { FfmpegPipe } from '../../server/broadcast/rendition-pipe.js';
import { startIcecast, type ManagedIcecast } from '../../server/icecast/managed-icecast.js';
import { hashPassword } from '../../server/auth/password-hash.js';
import { RECORDING_FILE_RE } from '../../server/recorder/recording-names.js';


function recordingsIn(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => RECORDING_FILE_RE.test(n)).sort().map((n) => join(dir, n));
  } catch {
    return [];
  }
}

async function goLive(s: Stack, opts: { mime?: string; who?: { name: string; password: string }; mount?: string } = {}): Promise<WebcastClient> {
  const who = opts.who ?? s.broadcaster;
  const c = new WebcastClient(`${s.wsBase}${opts.mount ?? 'live'}`);
  await c.opened;
  c.hello({ mime: opts.mime ?? 'audio/webm;codecs=opus', user: who.name, password: who.password });
  return c;
}

/** The broadcast has ended and its recorder finished (the registry drops it after both). */
async function showEnded(s: Stack): Promise<void> {
  await waitFor('the broadcast to end', () => s.daemon.registry.size === 0, 10000);
}

/** A valid Ogg/Opus file, one stream that ends with an end-of-stream page; its duration. */
async function checkOgg(file: string): Promise<number> {
  const p = await probe(file);
  assert.deepEqual(p.streams.map((x) => x.codec), ['opus'], `${file} is Ogg/Opus`);
  const pages = oggPages(readFileSync(file));
  assert.ok(pages[0]!.bos, 'starts with the BOS page');
  assert.equal(new Set(pages.map((pg) => pg.serial)).size, 1, 'one logical stream');
  assert.ok(pages.at(-1)!.eos, 'ends with an end-of-stream page');
  return p.audioSeconds;
}

interface RawResponse { status: number; body: Buffer; type: string | undefined }
function rawGet(base: string, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('show recordings (real icecast2)', function () {
  this.timeout(90000);
  let stack: Stack | undefined;

  it('a 20 s show is archived whole as Ogg/Opus; only its broadcaster lists and downloads it; no path leads outside', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'icewire-recordings-'));
    stack = await startStack({ record: true, config: { recordings: { dir } } });
    const c = await goLive(stack);
    const streaming = c.stream(await fixture('audio-webm', 20), { seconds: 20 });
    await c.live();
    const liveAt = Date.now();
    await streaming;
    c.close(1000);
    const stoppedAt = Date.now();
    await c.closed;
    await showEnded(stack);

    const files = recordingsIn(join(dir, 'live'));
    assert.equal(files.length, 1, 'one file');
    const [file] = files as [string];
    const seconds = await checkOgg(file);
    const showSeconds = (stoppedAt - liveAt) / 1000;
    assert.ok(Math.abs(seconds - showSeconds) < 1, `recording ${seconds.toFixed(2)} s, show ${showSeconds.toFixed(2)} s`);
    const meta = JSON.parse(readFileSync(`${file}.json`, 'utf8'));
    assert.equal(meta.user, 'alice');
    assert.equal(meta.stationMount, 'live');
    assert.equal(meta.format, 'ogg-opus');
    assert.equal(meta.bytes, statSync(file).size);
    assert.ok(Date.parse(meta.endedAt) >= Date.parse(meta.startedAt) + 19000);

    // the API
    const base = stack.baseUrl;
    const login = async (who: { name: string; password: string }): Promise<string> => {
      const res = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: who.name, password: who.password }) });
      assert.equal(res.status, 200);
      return ((await res.json()) as { token: string }).token;
    };
    const wrong = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'alice', password: 'not-it' }) });
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { error: { code: string } }).error.code, 'IW_ERR_AUTH_FAILED');
    const alice = await login(stack.broadcaster);
    const bob = await login(stack.other);
    const list = (await (await fetch(`${base}/api/recordings`, { headers: { Authorization: `Bearer ${alice}` } })).json()) as { recordings: { name: string; url: string; bytes: number; format: string; stationMount: string; startedAt: string; endedAt: string }[] };
    assert.equal(list.recordings.length, 1);
    const rec = list.recordings[0]!;
    assert.equal(rec.name, file.slice(file.lastIndexOf('/') + 1));
    assert.deepEqual({ stationMount: rec.stationMount, format: rec.format, bytes: rec.bytes, startedAt: rec.startedAt, endedAt: rec.endedAt },
      { stationMount: 'live', format: 'ogg-opus', bytes: statSync(file).size, startedAt: meta.startedAt, endedAt: meta.endedAt });
    const dl = await fetch(`${base}${rec.url}`, { headers: { Authorization: `Bearer ${alice}` } });
    assert.equal(dl.status, 200);
    assert.equal(dl.headers.get('content-type'), 'audio/ogg');
    assert.match(dl.headers.get('content-disposition') ?? '', /^attachment; filename=/);
    assert.ok(Buffer.from(await dl.arrayBuffer()).equals(readFileSync(file)), 'the download is the file');

    const bobList = (await (await fetch(`${base}/api/recordings`, { headers: { Authorization: `Bearer ${bob}` } })).json()) as { recordings: unknown[] };
    assert.deepEqual(bobList.recordings, [], 'bob does not see alice\'s show');
    const bobGet = await fetch(`${base}${rec.url}`, { headers: { Authorization: `Bearer ${bob}` } });
    assert.equal(bobGet.status, 403);
    assert.equal(((await bobGet.json()) as { error: { code: string } }).error.code, 'IW_ERR_RECORDING_FORBIDDEN');
    for (const path of ['/api/recordings', rec.url]) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 401, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'IW_ERR_AUTH_REQUIRED');
    }

    // traps outside the directory: a secret file, a symlinked station directory, a symlinked file
    const outside = mkdtempSync(join(tmpdir(), 'icewire-outside-'));
    const SECRET = `SECRET-${secret()}`;
    writeFileSync(join(outside, 'passwd'), SECRET);
    writeFileSync(join(outside, rec.name), SECRET);
    writeFileSync(join(outside, `${rec.name}.json`), readFileSync(`${file}.json`));
    symlinkSync(outside, join(dir, 'linked'));
    mkdirSync(join(dir, 'trap'));
    symlinkSync(join(outside, rec.name), join(dir, 'trap', rec.name));
    writeFileSync(join(dir, 'trap', `${rec.name}.json`), readFileSync(`${file}.json`));
    const nasty = [
      '/api/recordings/../../../../../etc/passwd',
      `/api/recordings/live/../../../../..${outside}/passwd`,
      '/api/recordings/..%2F..%2F..%2F..%2Fetc/passwd',
      `/api/recordings/live/..%2F..%2F..%2F..%2F..${encodeURIComponent(outside)}%2Fpasswd`,
      '/api/recordings/live/%2e%2e%2f%2e%2e%2flinked%2fpasswd',
      `/api/recordings/${encodeURIComponent(outside)}/passwd`,
      `/api/recordings/live/${encodeURIComponent(join(outside, 'passwd'))}`,
      `/api/recordings/linked/${rec.name}`,
      `/api/recordings/trap/${rec.name}`,
      `/api/recordings/live%2F..%2Flinked/${rec.name}`,
      '/api/recordings/live/..%5C..%5Clinked%5Cpasswd',
      `/api/recordings/live/${rec.name}%00.ogg`,
      `/api/recordings/live/${rec.name}.json`,
    ];
    const seen: string[] = [];
    for (const path of nasty) {
      const res = await rawGet(base, path, { Authorization: `Bearer ${alice}` });
      seen.push(`${res.status} ${path}`);
      assert.ok(res.status === 400 || res.status === 404, `${path}: ${res.status}`);
      assert.ok(!res.body.includes(SECRET), `${path} returned a file outside the recordings directory`);
      assert.match(res.type ?? '', /^application\/json/);
    }
  });

  it('a recording is untouched by an ffmpeg killed mid-show: one valid file of the whole show', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'icewire-recordings-'));
    stack = await startStack({ record: true, config: { recordings: { dir } }, renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }, { mount: '/live.mp3', format: 'mp3' }] });
    const c = await goLive(stack);
    const src = await fixture('audio-webm', 10);
    const streaming = c.stream(src, { seconds: 10 });
    await c.live();
    const liveAt = Date.now();
    await waitForMount(stack.icecastUrl, stack.icecast!.adminPassword, '/live.mp3');
    const pipe = stack.daemon.registry.get('live')!.renditions.find((p) => p.plan.mount === '/live.mp3') as FfmpegPipe;
    const size = statSync(src).size;
    await waitFor('3 s of the show', () => (c.statuses.at(-1)?.bytesIn ?? 0) > size * 0.3, 10000);
    const pid = pipe.pids[0]!;
    process.kill(pid, 'SIGKILL');
    await waitFor('a new ffmpeg', () => pipe.pids[0] !== undefined && pipe.pids[0] !== pid, 5000);
    await streaming;
    c.close(1000);
    const stoppedAt = Date.now();
    await c.closed;
    await showEnded(stack);
    const files = recordingsIn(join(dir, 'live'));
    assert.equal(files.length, 1, 'still one file');
    const seconds = await checkOgg(files[0]!);
    const showSeconds = (stoppedAt - liveAt) / 1000;
    assert.ok(Math.abs(seconds - showSeconds) < 1, `recording ${seconds.toFixed(2)} s, show ${showSeconds.toFixed(2)} s`);
    assert.deepEqual(stack.logLines.filter((l) => /recording/i.test(l) && /"level":"(warn|error)"/.test(l)), []);
  });

  it('a video show is recorded as the WebM the browser sent (VP8 + Opus)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'icewire-recordings-'));
    stack = await startStack({ record: true, config: { recordings: { dir } }, renditions: [{ mount: '/live.webm', format: 'webm' }] });
    const c = await goLive(stack, { mime: 'video/webm;codecs=vp8,opus' });
    const src = await fixture('video-webm', 5);
    const streaming = c.stream(src, { seconds: 5 });
    await c.live();
    await streaming;
    c.close(1000);
    await c.closed;
    await showEnded(stack);
    const files = recordingsIn(join(dir, 'live'));
    assert.equal(files.length, 1);
    assert.match(files[0]!, /\.webm$/);
    assert.ok(readFileSync(files[0]!).equals(readFileSync(src)), 'byte for byte what was sent');
    const p = await probe(files[0]!);
    assert.deepEqual(p.streams.map((s) => s.codec).sort(), ['opus', 'vp8']);
    assert.ok(p.videoPackets > 100 && p.audioSeconds > 4.5, `${p.videoPackets} video packets, ${p.audioSeconds} s of audio`);
    assert.equal(JSON.parse(readFileSync(`${files[0]}.json`, 'utf8')).format, 'webm');
  });
});

describe('show recordings: SIGTERM mid-show (the daemon as a process)', function () {
  this.timeout(60000);
  let icecast: ManagedIcecast;
  before(async () => {
    icecast = await startIcecast({ sourcePassword: secret(), adminPassword: secret() });
  });
  after(async () => {
    await icecast?.stop();
  });

  it('the file is finished: valid, ends with an end-of-stream page, and as long as the show', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'icewire-recordings-'));
    const alice = { name: 'alice', password: secret() };
    const daemon = await spawnDaemon({
      config: {
        listen: { host: '127.0.0.1', port: 0 },
        icecast: { url: icecast.url },
        broadcasters: [{ name: alice.name, passwordHash: await hashPassword(alice.password), mounts: ['live'] }],
        mounts: { live: { renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }], record: true } },
        recordings: { dir },
      },
      env: { ICEWIRE_ICECAST_SOURCE_PASSWORD: icecast.sourcePassword },
    });
    const c = new WebcastClient(`${daemon.wsBase}live`);
    await c.opened;
    c.hello({ mime: 'audio/webm;codecs=opus', user: alice.name, password: alice.password });
    const src = await fixture('audio-webm', 10);
    const streaming = c.stream(src, { seconds: 10 });
    await c.live();
    const liveAt = Date.now();
    const size = statSync(src).size;
    await waitFor('5 s of the show', () => (c.statuses.at(-1)?.bytesIn ?? 0) > size * 0.5, 10000);
    const exited = daemon.stop('SIGTERM');
    const termAt = Date.now();
    assert.equal((await c.closed).code, 1001);
    assert.equal((await exited).code, 0);
    await streaming;

    const files = recordingsIn(join(dir, 'live'));
    assert.equal(files.length, 1);
    const seconds = await checkOgg(files[0]!);
    const showSeconds = (termAt - liveAt) / 1000;
    assert.ok(Math.abs(seconds - showSeconds) < 1, `recording ${seconds.toFixed(2)} s, show ${showSeconds.toFixed(2)} s`);
    const meta = JSON.parse(readFileSync(`${files[0]}.json`, 'utf8'));
    assert.notEqual(meta.endedAt, null, 'the sidecar was finished too');
    assert.equal(meta.bytes, statSync(files[0]!).size);
  });
});
