// Desktop source clients going live through icewire's Icecast-protocol front door (issue 12),
// real clients from Debian packages against a real icecast2 and the daemon: ezstream (libshout)
// with MP3 and Ogg/Vorbis, Liquidsoap's output.icecast with Ogg/Opus and MP3, ffmpeg's icecast://
// with AAC over the legacy SOURCE method and PUT. Listeners get valid audio on every rendition;
// an MP3 upload reaches the MP3 mount frame for frame; "now playing" reaches Icecast; a client
// whose connection dies and comes back 3 s later continues the same show; recordings, listener
// counts and the manager's kick work for these shows. One icecast2 and daemon for the file; shows
// on the two stations run at the same time where a case has two clients. In passthrough mode (its
// own stack) Icecast's 401 reaches the client and counts as a failed login; a refusal before
// Icecast saw the password does not.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Broadcast } from '../../server/broadcast/broadcast.js';
import { Mp3Framer } from '../../server/pipeline/mp3-frames.js';
import { RECORDING_FILE_RE } from '../../server/recorder/recording-names.js';
import { chainedOpusSeconds } from '../browser/browser-helpers.js';
import { fixture, probe, uploadFixture } from '../helpers/media.js';
import { oggPages } from '../helpers/ogg-pages.js';
import { listen, waitFor, waitForMount, waitForMountGone, type Recording } from '../helpers/listener.js';
import { ezstream, ffmpegSource, liquidsoap, rawSource, type ClientProcess } from '../helpers/source-clients.js';
import { childFfmpegPids, secret, startStack, type Stack } from '../helpers/stack.js';
import { WebcastClient } from '../helpers/webcast-client.js';

const LIVE = ['/live.ogg', '/live.mp3'];
const OTHER = ['/other.ogg', '/other.mp3'];

/** The MPEG audio frames of a stream, as the daemon's framer cuts them. */
function frames(buf: Buffer): Buffer[] {
  return new Mp3Framer().push(buf);
}

describe('desktop source clients (real ezstream, Liquidsoap, ffmpeg; real icecast2)', function () {
  this.timeout(90000);
  let stack: Stack;
  let port: number;
  let recordings: string;
  const token = secret();
  before(async () => {
    recordings = mkdtempSync(join(tmpdir(), 'icewire-source-rec-'));
    stack = await startStack({
      config: {
        admin: { token },
        recordings: { dir: recordings, keepDays: 1 },
        mounts: {
          // no bitrate on the MP3 renditions: an MP3 upload is copied, frame for frame
          live: { name: 'Test Radio', renditions: [{ mount: '/live.ogg', format: 'ogg-opus' }, { mount: '/live.mp3', format: 'mp3' }], record: true },
          other: { renditions: [{ mount: '/other.ogg', format: 'ogg-opus' }, { mount: '/other.mp3', format: 'mp3' }] },
        },
      },
      limits: { reconnectGraceMs: 8000 },
    });
    port = Number(new URL(stack.baseUrl).port);
  });
  after(async () => {
    await stack?.stop();
    await waitFor('no ffmpeg left', () => childFfmpegPids().length === 0, 5000);
    if (recordings !== undefined) rmSync(recordings, { recursive: true, force: true });
  });
  afterEach(async () => {
    await waitFor('stations free', () => stack.daemon.registry.size === 0, 15000);
  });

  const admin = (): string => stack.icecast!.adminPassword;
  const alice = (): { user: string; password: string } => ({ user: stack.broadcaster.name, password: stack.broadcaster.password });
  const bob = (): { user: string; password: string } => ({ user: stack.other.name, password: stack.other.password });

  async function onAir(mounts: readonly string[], client: ClientProcess, timeoutMs = 15000): Promise<void> {
    try {
      for (const m of mounts) await waitForMount(stack.icecastUrl, admin(), m, timeoutMs);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nclient said:\n${client.output()}`, { cause: err });
    }
  }

  async function validAudio(buf: Buffer, mount: string, minSeconds = 5): Promise<void> {
    const ogg = mount.endsWith('.ogg');
    const p = await probe(buf);
    assert.deepEqual(p.streams.map((s) => s.codec), [ogg ? 'opus' : 'mp3'], `${mount}: codec`);
    // each "now playing" starts a new chain on an Ogg/Opus mount: count them all
    const seconds = ogg ? await chainedOpusSeconds(buf) : p.audioSeconds;
    assert.ok(seconds >= minSeconds, `${mount}: the listener got ${seconds.toFixed(2)} s`);
  }

  function record(mounts: readonly string[], ms: number): Recording[] {
    return mounts.map((m) => listen(`${stack.icecastUrl}${m}`, { maxMs: ms }));
  }

  it('ezstream: MP3 with a host\'s login and Ogg/Vorbis as user "source" with the host in the mount path, at once', async () => {
    const mp3 = await uploadFixture('mp3', 14, 440);
    const vorbis = await uploadFixture('vorbis-ogg', 14, 660);
    const a = ezstream({ port, ...alice(), mount: '/live', format: 'MP3', file: mp3, artist: 'Studio Ä', title: 'Évening Shöw — “live”' });
    const b = ezstream({ port, user: 'source', password: stack.other.password, mount: `/other/${stack.other.name}`, format: 'Ogg', file: vorbis });
    await Promise.all([onAir(LIVE, a), onAir(OTHER, b)]);
    const live = stack.daemon.registry.get('live')!;
    assert.equal(live.ingest, 'icecast-source');
    assert.equal(live.user, stack.broadcaster.name);
    assert.equal(stack.daemon.registry.get('other')!.user, stack.other.name, 'user "source" + /other/bob is bob');
    // 8 s of a 14 s file: room for the Vorbis show's normaliser start on a busy machine
    const recs = record([...LIVE, ...OTHER], 8000);
    // now playing reaches Icecast's statistics, spelled for the MP3 mount's Latin-1 charset
    await waitFor('the title in status-json', async () => {
      const j = JSON.parse(await (await fetch(`${stack.icecastUrl}/status-json.xsl`)).text()) as { icestats: { source?: { listenurl: string; title?: string }[] | { listenurl: string; title?: string } } };
      const mp3Mount = ([] as { listenurl: string; title?: string }[]).concat(j.icestats.source ?? []).find((s) => s.listenurl.endsWith('/live.mp3'));
      return mp3Mount?.title === 'Studio Ä - Évening Shöw - "live"';
    }, 8000);
    assert.equal(live.title, 'Studio Ä - Évening Shöw — “live”', 'the daemon keeps the title as sent (cleaned)');
    const [liveOgg, liveMp3, otherOgg, otherMp3] = await Promise.all(recs.map((r) => r.done));
    for (const [buf, m] of [[liveOgg!, '/live.ogg'], [liveMp3!, '/live.mp3'], [otherOgg!, '/other.ogg'], [otherMp3!, '/other.mp3']] as const) await validAudio(buf, m);
    // MP3 -> MP3: the listener's frames are the file's, byte for byte, in order
    const sent = frames(readFileSync(mp3));
    const got = frames(liveMp3!);
    assert.ok(got.length > 150, `${got.length} frames`);
    const at = sent.findIndex((f) => f.equals(got[0]!));
    assert.ok(at >= 0, 'the first frame the listener got is one of the file\'s');
    got.forEach((f, i) => assert.ok(f.equals(sent[at + i]!), `frame ${i} differs from the file's frame ${at + i}`));
    await Promise.all([a.stop(), b.stop()]);
    // the recording of the source client's show: one valid Ogg/Opus file
    await waitFor('the show on live ended and was recorded', () => stack.daemon.registry.get('live') === undefined, 15000);
    const files = readdirSync(join(recordings, 'live')).filter((n) => RECORDING_FILE_RE.test(n));
    assert.equal(files.length, 1, `recordings: ${files.join(', ')}`);
    const rec = await probe(join(recordings, 'live', files[0]!));
    assert.deepEqual(rec.streams.map((s) => s.codec), ['opus']);
    assert.ok(rec.audioSeconds >= 5, `recorded ${rec.audioSeconds.toFixed(2)} s`);
  });

  it('Liquidsoap output.icecast (PUT): Ogg/Opus to one station, MP3 to the other', async () => {
    const liq = liquidsoap(port, [
      { encoder: '%opus(bitrate=96)', ...alice(), mount: '/live', frequency: 440 },
      { encoder: '%mp3(bitrate=128)', ...bob(), mount: '/other', frequency: 660 },
    ]);
    await Promise.all([onAir(LIVE, liq, 30000), onAir(OTHER, liq, 30000)]);
    // Opus in: the daemon rewrites the pages itself (no normaliser); only the MP3 encoder runs
    assert.equal(stack.daemon.registry.get('live')!.pids.length, 1, 'Ogg/Opus in: one ffmpeg (the MP3 encoder)');
    const recs = record([...LIVE, ...OTHER], 7000);
    const [liveOgg, liveMp3, otherOgg, otherMp3] = await Promise.all(recs.map((r) => r.done));
    await liq.stop();
    for (const [buf, m] of [[liveOgg!, '/live.ogg'], [liveMp3!, '/live.mp3'], [otherOgg!, '/other.ogg'], [otherMp3!, '/other.mp3']] as const) await validAudio(buf, m);
    assert.equal(new Set(oggPages(liveOgg!).map((p) => p.serial)).size, 1, 'the daemon\'s own Ogg stream');
  });

  it('ffmpeg icecast:// with AAC: the legacy SOURCE method to one station, PUT to the other', async () => {
    const aac = await uploadFixture('aac-adts', 14, 440);
    const a = ffmpegSource({ port, ...alice(), mount: '/live', file: aac, muxer: 'adts', contentType: 'audio/aac', legacy: true });
    const b = ffmpegSource({ port, ...bob(), mount: '/other', file: aac, muxer: 'adts', contentType: 'audio/aac' });
    await Promise.all([onAir(LIVE, a), onAir(OTHER, b)]);
    const recs = record([...LIVE, ...OTHER], 7000);
    const bufs = await Promise.all(recs.map((r) => r.done));
    await Promise.all([a.stop(), b.stop()]);
    for (const [i, m] of [...LIVE, ...OTHER].entries()) await validAudio(bufs[i]!, m);
  });

  it('a client whose TCP connection dies and comes back 3 s later continues the show: listeners stay connected and get one stream', async () => {
    const mp3 = await uploadFixture('mp3', 14, 440);
    const first = ffmpegSource({ port, ...alice(), mount: '/live', file: mp3, muxer: 'mp3', contentType: 'audio/mpeg' });
    await onAir(LIVE, first);
    const b: Broadcast = stack.daemon.registry.get('live')!;
    const recs = LIVE.map((m) => listen(`${stack.icecastUrl}${m}`));
    await waitFor('audio flowing', () => recs.every((r) => r.bytes() > 16000), 8000);
    await first.kill();
    await waitFor('reconnecting', () => b.state === 'reconnecting', 3000);
    await new Promise((r) => setTimeout(r, 3000));
    const second = ffmpegSource({ port, ...alice(), mount: '/live', file: mp3, muxer: 'mp3', contentType: 'audio/mpeg' });
    await waitFor('live again', () => b.state === 'live', 8000);
    assert.equal(stack.daemon.registry.get('live'), b, 'the same broadcast continues');
    assert.equal(b.resumes, 1);
    const before = recs.map((r) => r.bytes());
    await waitFor('the new audio reaches the listeners', () => recs.every((r, i) => r.bytes() > before[i]! + 32000), 8000);
    assert.deepEqual(recs.map((r) => r.ended()), [false, false], 'no listener connection was closed');
    await second.stop();
    await waitForMountGone(stack.icecastUrl, admin(), '/live.ogg', 15000);
    const [ogg, mp3Got] = await Promise.all(recs.map((r) => r.done));
    const pages = oggPages(ogg!);
    assert.equal(pages.filter((p) => p.bos).length, 1, 'one Ogg stream: the reconnect started no new chain');
    await validAudio(ogg!, '/live.ogg', 8);
    await validAudio(mp3Got!, '/live.mp3', 8);
  });

  it('"now playing" as butt and Mixxx send it (/admin/metadata, /admin.cgi): the client\'s own login, the cleaned title, Icecast\'s answers', async () => {
    const aac = await uploadFixture('aac-adts', 14, 440);
    const client = ffmpegSource({ port, ...alice(), mount: '/live', file: aac, muxer: 'adts', contentType: 'audio/aac', loop: true });
    try {
      await onAir(LIVE, client);
      const b = stack.daemon.registry.get('live')!;
      const basic = (c: { user: string; password: string }): Record<string, string> => ({ Authorization: `Basic ${Buffer.from(`${c.user}:${c.password}`).toString('base64')}` });
      const updinfo = (q: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${stack.baseUrl}/admin/metadata?${q}`, { headers });
      // butt: mount, song, the streaming credentials; a line break in a title is an ICY injection attempt
      const ok = await updinfo(`mode=updinfo&mount=%2Flive&song=${encodeURIComponent('Artist – Song\r\nStreamUrl=evil')}`, basic(alice()));
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /<message>Metadata update successful<\/message>/);
      assert.equal(b.title, 'Artist – Song StreamUrl=evil', 'the title went through the one title cleaner');
      await waitFor('the title in status-json', async () => {
        const j = JSON.parse(await (await fetch(`${stack.icecastUrl}/status-json.xsl`)).text()) as { icestats: { source?: { listenurl: string; title?: string }[] | { listenurl: string; title?: string } } };
        return ([] as { listenurl: string; title?: string }[]).concat(j.icestats.source ?? []).find((s) => s.listenurl.endsWith('/live.mp3'))?.title === 'Artist - Song StreamUrl=evil';
      }, 8000);
      // admin.cgi (SHOUTcast style): the password in the query, the host's one show
      const cgi = await fetch(`${stack.baseUrl}/admin.cgi?mode=updinfo&user=${stack.broadcaster.name}&pass=${encodeURIComponent(stack.broadcaster.password)}&song=Second+song`);
      assert.equal(cgi.status, 200);
      assert.equal(b.title, 'Second song');
      // wrong password: 401 with a challenge; another host's show: 403; no show on the mount: Icecast's "Source does not exist"
      const wrong = await updinfo('mode=updinfo&mount=/live&song=x', basic({ user: stack.broadcaster.name, password: 'wrong' }));
      assert.equal(wrong.status, 401);
      assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic /);
      const notYours = await updinfo('mode=updinfo&mount=/live&song=x', basic(bob()));
      assert.equal(notYours.status, 403);
      const none = await updinfo('mode=updinfo&mount=/other&song=x', basic(bob()));
      assert.equal(none.status, 400);
      assert.match(await none.text(), /Source does not exist/);
      assert.equal(b.title, 'Second song', 'no refused update changed the title');
    } finally {
      await client.stop();
    }
  });

  it('refusals a client understands: 401 with a challenge, 403 for a station the host may not use, "Mountpoint in use", 400 for a bad type; garbage ends only its own connection', async () => {
    // a real client with a wrong password: ffmpeg reports Icecast's 401
    const wrongClient = ffmpegSource({ port, user: stack.broadcaster.name, password: 'wrong', mount: '/live', file: await uploadFixture('aac-adts', 14, 440), muxer: 'adts', contentType: 'audio/aac' });
    assert.notEqual(await wrongClient.exited, 0);
    assert.match(wrongClient.output(), /401/, wrongClient.output());
    const wrong = await rawSource(port, '/live', { user: stack.broadcaster.name, password: 'wrong' }, 'audio/mpeg');
    assert.match(wrong, /^HTTP\/1\.0 401 Authentication Required\r\n/);
    assert.match(wrong, /\r\nWWW-Authenticate: Basic realm="icewire"\r\n/);
    assert.match(wrong, /\r\n\r\nYou need to authenticate\r\n$/);
    assert.match(await rawSource(port, '/live', undefined, 'audio/mpeg'), /^HTTP\/1\.0 401 /, 'no credentials: the challenge');
    const forbidden = await rawSource(port, '/other', alice(), 'audio/mpeg');
    assert.match(forbidden, /^HTTP\/1\.0 403 Forbidden\r\n/);
    assert.match(forbidden, /not allowed to broadcast on this station/);
    assert.match(await rawSource(port, '/nowhere', alice(), 'audio/mpeg'), /^HTTP\/1\.0 404 /, 'an unknown station');
    assert.match(await rawSource(port, '/live', alice(), undefined), /^HTTP\/1\.0 403 Forbidden\r\n[^]*No Content-type given/);
    assert.match(await rawSource(port, '/live', alice(), 'text/plain'), /^HTTP\/1\.0 400 Bad Request\r\n[^]*Content-type not supported/);
    assert.match(await rawSource(port, '/live', alice(), 'audio/mpeg', { body: Buffer.from('this is not MP3 at all') }), /^HTTP\/1\.0 400 /, 'first bytes that are not the type');
    // a show on "other" goes on through all of this
    const mp3 = await uploadFixture('mp3', 14, 660);
    const running = ffmpegSource({ port, ...bob(), mount: '/other', file: mp3, muxer: 'mp3', contentType: 'audio/mpeg', loop: true });
    const first = ffmpegSource({ port, ...alice(), mount: '/live', file: mp3, muxer: 'mp3', contentType: 'audio/mpeg', loop: true });
    try {
      await Promise.all([onAir(OTHER, running), onAir(LIVE, first)]);
      const l = listen(`${stack.icecastUrl}/other.mp3`);
      await waitFor('the concurrent show reaches its listener', () => l.bytes() > 16000, 8000);
      // the same host again while the first client streams: Icecast's "Mountpoint in use"
      const busy = await rawSource(port, '/live', alice(), 'audio/mpeg');
      assert.match(busy, /^HTTP\/1\.0 403 Forbidden\r\n[^]*Mountpoint in use/);
      const second = ffmpegSource({ port, ...alice(), mount: '/live', file: mp3, muxer: 'mp3', contentType: 'audio/mpeg' });
      assert.notEqual(await second.exited, 0, 'a second real client is refused');
      await first.stop();
      await waitFor('live is free', () => stack.daemon.registry.get('live') === undefined, 15000);
      // a valid Ogg start, then garbage: accepted, then its connection is closed; the other show goes on
      const ogg = readFileSync(await fixture('audio-ogg', 4));
      const garbage = Buffer.concat([ogg.subarray(0, 4096), randomBytes(65536)]);
      const answer = await rawSource(port, '/live', alice(), 'audio/ogg', { body: garbage });
      assert.match(answer, /^HTTP\/1\.0 200 OK\r\n\r\n$/, 'accepted, then closed without another byte');
      await waitFor('the garbage show ended', () => stack.daemon.registry.get('live') === undefined, 10000);
      const before = l.bytes();
      await waitFor('the concurrent show still reaches its listener', () => l.bytes() > before + 32000, 8000);
      assert.equal(l.ended(), false);
      assert.equal(stack.daemon.registry.get('other')?.state, 'live');
      l.stop();
    } finally {
      await Promise.all([running.stop(), first.stop()]);
    }
  });

  it('the manager API lists a source-client show with its listener count, and a kick keeps its client out for a while', async () => {
    const aac = await uploadFixture('aac-adts', 14, 440);
    const client = ffmpegSource({ port, ...alice(), mount: '/live', file: aac, muxer: 'adts', contentType: 'audio/aac', loop: true });
    await onAir(LIVE, client);
    const l = listen(`${stack.icecastUrl}/live.mp3`);
    const auth = { Authorization: `Bearer ${token}` };
    type Listed = { stationMount: string; ingest: string; user: string; listeners: number; state: string };
    const show = await waitFor('the show listed with its listener', async () => {
      const list = await (await fetch(`${stack.baseUrl}/api/admin/broadcasts`, { headers: auth })).json() as { broadcasts: Listed[] };
      const s = list.broadcasts.find((x) => x.stationMount === 'live');
      return s !== undefined && s.listeners === 1 ? s : undefined;
    }, 8000);
    assert.deepEqual({ ingest: show.ingest, user: show.user, state: show.state }, { ingest: 'icecast-source', user: stack.broadcaster.name, state: 'live' });
    const res = await fetch(`${stack.baseUrl}/api/admin/broadcasts/live/end`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ reason: 'Time for the news' }) });
    assert.equal(res.status, 200);
    await client.exited;
    await waitForMountGone(stack.icecastUrl, admin(), '/live.ogg', 5000);
    l.stop();
    // the client's reconnect is refused, with a sentence (Icecast-style 403)
    const answer = await rawSource(port, '/live', alice(), 'audio/aac');
    assert.match(answer, /^HTTP\/1\.0 403 /);
    assert.match(answer, /go live on this station again in \d+ minutes?/);
    assert.equal(stack.daemon.registry.get('live'), undefined, 'nothing went live');
  });
});

describe('the source door shares the page\'s failed-login limit (sourceListen; no Icecast needed)', function () {
  this.timeout(60000);

  it('wrong passwords split between the WebSocket and the source port reach one limit: then the right password is refused at both', async () => {
    const s = await startStack({ noIcecast: true, limits: { maxFailedLogins: 4 }, config: { sourceListen: { host: '127.0.0.1', port: 0 } } });
    const sourcePort = s.daemon.sourceAddress!.port;
    assert.notEqual(sourcePort, Number(new URL(s.baseUrl).port), 'a port of its own');
    const { name, password } = s.broadcaster;
    const viaSocket = async (pw: string): Promise<{ code: number; reason: string }> => {
      const c = new WebcastClient(`${s.wsBase}live`);
      await c.opened;
      c.hello({ mime: 'audio/webm;codecs=opus', user: name, password: pw });
      return c.closed;
    };
    for (let i = 0; i < 2; i++) {
      assert.equal((await viaSocket(`wrong-${i}`)).code, 4401);
      assert.match(await rawSource(sourcePort, '/live', { user: name, password: `wrong-s${i}` }, 'audio/mpeg'), /^HTTP\/1\.0 401 /);
    }
    // the fifth try is refused before its password is checked, at either door: 429 with a
    // sentence and when to try again (a 401 would read as a wrong password)
    const limited = await rawSource(sourcePort, '/live', { user: name, password }, 'audio/mpeg');
    assert.match(limited, /^HTTP\/1\.0 429 Too Many Requests\r\n/);
    assert.match(limited, /\r\nRetry-After: \d+\r\n/);
    assert.match(limited, /too many/i);
    // what a real client shows its operator
    const ffmpeg = ffmpegSource({ port: sourcePort, user: name, password, mount: '/live', file: await uploadFixture('mp3', 2, 440), muxer: 'mp3', contentType: 'audio/mpeg' });
    await ffmpeg.exited;
    assert.match(ffmpeg.output(), /429 Too Many Requests/, ffmpeg.output());
    assert.equal((await viaSocket(password)).reason, 'IW_ERR_AUTH_RATE_LIMITED');
    const refused = s.logLines.filter((l) => /"message":"login refused"/.test(l)).map((l) => `${/"door":"([a-z-]+)"/.exec(l)?.[1]} ${/"code":"(IW_ERR_[A-Z_]+)"/.exec(l)?.[1]}`);
    assert.deepEqual(refused, [
      'websocket IW_ERR_AUTH_FAILED', 'icecast-source IW_ERR_AUTH_FAILED', 'websocket IW_ERR_AUTH_FAILED', 'icecast-source IW_ERR_AUTH_FAILED',
      'icecast-source IW_ERR_AUTH_RATE_LIMITED', 'websocket IW_ERR_AUTH_RATE_LIMITED',
    ]);
    // the source port serves source clients and their metadata only
    const page = await fetch(`http://127.0.0.1:${sourcePort}/`);
    assert.equal(page.status, 404);
    assert.match(await page.text(), /Icecast source clients only/);
    assert.ok(!s.logLines.some((l) => l.includes(password)), 'no password in the log');
  });
});

describe('passthrough mode: a source client\'s password is Icecast\'s to judge, and counted while it does', function () {
  this.timeout(60000);

  it('refused by Icecast counts as a failed login; refusals before Icecast saw it do not; the right one goes live', async () => {
    const s = await startStack({ mode: 'passthrough', limits: { maxFailedLogins: 2 } });
    try {
      const port = Number(new URL(s.baseUrl).port);
      const right = { user: 'source', password: s.icecast!.sourcePassword };
      // the right password: Icecast takes it, the show is on /live.mp3
      const client = ffmpegSource({ port, ...right, mount: '/live.mp3', file: await uploadFixture('mp3', 14, 440), muxer: 'mp3', contentType: 'audio/mpeg', loop: true });
      try {
        await waitForMount(s.icecastUrl, s.icecast!.adminPassword, '/live.mp3', 15000);
        assert.equal(s.daemon.registry.get('live.mp3')?.ingest, 'icecast-source');
      } finally {
        await client.stop();
      }
      // refused before any Icecast answer (no type, a bad type): never judged, so never counted
      for (let i = 0; i < 3; i++) {
        assert.match(await rawSource(port, '/other.mp3', { user: 'source', password: `wrong-${i}` }, undefined), /^HTTP\/1\.0 403 Forbidden\r\n[^]*No Content-type given/);
      }
      // Icecast's 401, twice from this address: the limit (2) is reached
      for (let i = 0; i < 2; i++) {
        assert.match(await rawSource(port, '/other.mp3', { user: 'source', password: `wrong-${i}` }, 'audio/mpeg'), /^HTTP\/1\.0 401 /);
      }
      const limited = await rawSource(port, '/other.mp3', right, 'audio/mpeg');
      assert.match(limited, /^HTTP\/1\.0 429 Too Many Requests\r\n[^]*Retry-After: \d+\r\n[^]*too many/i, 'over the limit: refused before Icecast is asked');
      const refused = s.logLines.filter((l) => /"message":"login refused/.test(l)).map((l) => `${/"door":"([a-z-]+)"/.exec(l)?.[1]} ${/"code":"(IW_ERR_[A-Z_]+)"/.exec(l)?.[1]}`);
      assert.deepEqual(refused, ['icecast-source IW_ERR_ICECAST_AUTH', 'icecast-source IW_ERR_ICECAST_AUTH', 'icecast-source IW_ERR_AUTH_RATE_LIMITED']);
      assert.ok(!s.logLines.some((l) => l.includes(right.password)), 'no password in the log');
    } finally {
      await s.stop();
    }
  });
});
