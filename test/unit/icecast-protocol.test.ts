// The Icecast source protocol as icewire's source door speaks it (server/ingest/icecast-protocol.ts),
// the request-line split of the listening socket (connection-router.ts), who may take a source
// client's show back without a token (resume-ticket.ts) and the kick ban (registry.ts). Pure
// functions and fakes: no socket, no process.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { isSourceRequest } from '../../server/ingest/connection-router.js';
import {
  acceptBytes, ANSWERS, answerBytes, answerFor, basicCredentials, clientStreamInfo, decodePath, headEnd, METADATA_OK, mountTarget,
  parseMetadataQuery, parseRequestHead,
} from '../../server/ingest/icecast-protocol.js';
import { stationTarget } from '../../server/ingest/source-auth.js';
import { mediaShape, ResumeTicket, type IngestKind } from '../../server/broadcast/resume-ticket.js';
import { BroadcastRegistry } from '../../server/broadcast/registry.js';
import type { Broadcast, BroadcastSink } from '../../server/broadcast/broadcast.js';
import { IcewireError } from '../../server/errors.js';
import { parseMime } from '../../server/pipeline/media-type.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { captureLogger } from '../helpers/log-capture.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

describe('Icecast source protocol (pure)', () => {
  describe('the request line decides the door', () => {
    const cases: [string, boolean | undefined][] = [
      ['PUT /live HTTP/1.1\r\n', true],
      ['SOURCE /live HTTP/1.0\r\n', true],
      ['OPTIONS * HTTP/1.1\r\n', true],
      ['GET / HTTP/1.1\r\n', false],
      ['POST /api/login HTTP/1.1\r\n', false],
      ['OPTIONS /api HTTP/1.1\r\n', false],
      ['PU', undefined],
      ['SOUR', undefined],
      ['', undefined],
      ['P', undefined],
      ['PUTS', false],
      ['\x16\x03\x01', false],
    ];
    for (const [first, want] of cases) {
      it(`${JSON.stringify(first)} -> ${String(want)}`, () => assert.equal(isSourceRequest(Buffer.from(first, 'latin1')), want));
    }
  });

  describe('request head', () => {
    it('finds the blank line (CRLF or bare LF, as old clients send)', () => {
      assert.equal(headEnd(Buffer.from('PUT / HTTP/1.1\r\nA: b\r\n\r\nBODY')), 24);
      assert.equal(headEnd(Buffer.from('SOURCE / HTTP/1.0\nA: b\n\nBODY')), 24);
      assert.equal(headEnd(Buffer.from('PUT / HTTP/1.1\r\nA: b\r\n')), -1);
    });

    it('parses method, path, query, version and lower-cased headers; repeats are joined', () => {
      const h = parseRequestHead(Buffer.from('SOURCE /live.mp3?x=1 HTTP/1.0\r\nAuthorization: Basic abc\r\nIce-Name: Show\r\nX-A: 1\r\nx-a: 2\r\n\r\n'))!;
      assert.deepEqual(
        { m: h.method, p: h.path, q: h.query, v: h.version, a: h.headers.authorization, n: h.headers['ice-name'], x: h.headers['x-a'] },
        { m: 'SOURCE', p: '/live.mp3', q: 'x=1', v: 'HTTP/1.0', a: 'Basic abc', n: 'Show', x: '1, 2' },
      );
    });

    for (const bad of ['PUT /live\r\n\r\n', 'put /live HTTP/1.1\r\n\r\n', 'PUT /live HTTP/2\r\n\r\n', 'PUT /live HTTP/1.1\r\nno colon here\r\n\r\n', 'PUT /live HTTP/1.1\r\nBad Name: x\r\n\r\n']) {
      it(`is not HTTP: ${JSON.stringify(bad)}`, () => assert.equal(parseRequestHead(Buffer.from(bad)), undefined));
    }
  });

  describe('Basic credentials', () => {
    it('user and password (the password may hold colons, and UTF-8)', () => {
      assert.deepEqual(basicCredentials(`Basic ${b64('alice:pa:ss wörd')}`), { user: 'alice', password: 'pa:ss wörd' });
      assert.deepEqual(basicCredentials(`basic ${b64('source:')}`), { user: 'source', password: '' });
    });
    for (const bad of [undefined, '', 'Bearer abc', `Basic ${b64('no-colon')}`, 'Basic !!!', `Basic ${'A'.repeat(3000)}`]) {
      it(`none from ${JSON.stringify(bad)?.slice(0, 40)}`, () => assert.equal(basicCredentials(bad), undefined));
    }
  });

  describe('which station a mount path names', () => {
    const renditions = new Map([['/live.mp3', 'live'], ['/live.ogg', 'live']]);
    const isStation = (id: string): boolean => id === 'live' || id === 'other';
    const cases: [string, ReturnType<typeof mountTarget>][] = [
      ['/live', { station: 'live' }],
      ['/live/', { station: 'live' }],
      ['/live/alice', { station: 'live', host: 'alice' }],
      ['/live.mp3', { station: 'live' }],
      ['/other', { station: 'other' }],
      ['/nope', undefined],
      ['/live/a/b', undefined],
      ['live', undefined],
      [`/${'x'.repeat(300)}`, undefined],
    ];
    for (const [path, want] of cases) it(`${path.slice(0, 20)} -> ${JSON.stringify(want)}`, () => assert.deepEqual(mountTarget(path, renditions, isStation), want));

    it('a path that does not percent-decode is none', () => {
      assert.equal(decodePath('/live%zz'), undefined);
      assert.equal(decodePath('/live%2Falice'), '/live/alice');
    });

    it('accounts mode knows the stations and their rendition mounts; passthrough any mount name, no hosts', () => {
      const accounts = { auth: { mode: 'accounts' as const }, mounts: { live: { renditions: [{ mount: '/live.mp3' }] } } } as unknown as Parameters<typeof stationTarget>[0];
      const passthrough = { auth: { mode: 'passthrough' as const }, mounts: {} } as unknown as Parameters<typeof stationTarget>[0];
      assert.deepEqual(stationTarget(accounts, '/live.mp3'), { station: 'live' });
      assert.deepEqual(stationTarget(passthrough, '/anything.mp3'), { station: 'anything.mp3' });
      for (const [cfg, path] of [[accounts, '/other'], [passthrough, '/a/b']] as const) {
        assert.throws(() => stationTarget(cfg, path), (e: unknown) => e instanceof IcewireError && e.code === 'IW_ERR_MOUNT_UNKNOWN');
      }
    });
  });

  describe('stream information from ice-* and icy-* headers', () => {
    it('ice-* wins over icy-*, UTF-8 sent as bytes is read as UTF-8, controls go, bitrate and public parsed', () => {
      const utf8AsLatin1 = Buffer.from('Évening Shöw', 'utf8').toString('latin1');
      const info = clientStreamInfo({ 'ice-name': utf8AsLatin1, 'icy-name': 'old', 'icy-genre': 'Jazz\x00\x07', 'icy-br': '128', 'ice-public': '1', 'ice-url': 'https://example.org' });
      assert.deepEqual(info, { name: 'Évening Shöw', description: undefined, genre: 'Jazz', url: 'https://example.org', public: true, bitrate: 128, audioInfo: undefined });
    });
    it('a nonsense bitrate and an empty name are left out', () => {
      const info = clientStreamInfo({ 'ice-bitrate': 'fast', 'ice-name': '   ' });
      assert.equal(info.bitrate, undefined);
      assert.equal(info.name, undefined);
    });
  });

  describe('answers a client understands (Icecast 2.4\'s own)', () => {
    it('a wrong login is 401 with a challenge and Icecast\'s text', () => {
      const a = answerFor('IW_ERR_AUTH_FAILED', 'whatever');
      assert.equal(a, ANSWERS.unauthorized);
      const bytes = answerBytes(a);
      assert.match(bytes, /^HTTP\/1\.0 401 Authentication Required\r\n/);
      assert.match(bytes, /\r\nWWW-Authenticate: Basic realm="icewire"\r\n/);
      assert.ok(bytes.endsWith('\r\n\r\nYou need to authenticate\r\n'));
      assert.match(bytes, new RegExp(`Content-Length: ${'You need to authenticate\r\n'.length}\r\n`));
    });
    it('a busy mount is 403 "Mountpoint in use", whether icewire or Icecast says so', () => {
      assert.equal(answerFor('IW_ERR_MOUNT_BUSY', 'x').text, 'Mountpoint in use');
      assert.equal(answerFor('IW_ERR_ICECAST_MOUNT_IN_USE', 'x').status, 403);
    });
    it('a rate limit is a 429 with our sentence and Retry-After (ffmpeg and Liquidsoap print "429 Too Many Requests")', () => {
      const limited = answerFor('IW_ERR_AUTH_RATE_LIMITED', 'Too many tries.', 540);
      assert.deepEqual({ ...limited }, { status: 429, reason: 'Too Many Requests', text: 'Too many tries.', retryAfterS: 540 });
      assert.match(answerBytes(limited), /^HTTP\/1\.0 429 Too Many Requests\r\n[^]*\r\nRetry-After: 540\r\n[^]*\r\n\r\nToo many tries\.\r\n$/);
      assert.equal(answerFor('IW_ERR_LIMIT_CONNECTIONS', 'Too many connections.').status, 429);
      assert.doesNotMatch(answerBytes(answerFor('IW_ERR_LIMIT_CONNECTIONS', 'x')), /Retry-After/, 'no Retry-After when nothing says when');
      assert.equal(answerFor('IW_ERR_AUTH_BUSY', 'Busy.', 5).retryAfterS, 5);
    });
    it('a kick is a 403 with our sentence (a 401 would read as "wrong password")', () => {
      assert.equal(answerFor('IW_ERR_KICKED_WAIT', 'Wait.').status, 403);
      assert.equal(answerFor('IW_ERR_KICKED_WAIT', 'Wait.', 60).retryAfterS, undefined);
    });
    it('a mount the host may not use is 403, an unsupported type 400', () => {
      assert.equal(answerFor('IW_ERR_MOUNT_FORBIDDEN', 'Not yours.').status, 403);
      assert.equal(answerFor('IW_ERR_INGEST_UNSUPPORTED_MEDIA', 'x').status, 400);
    });
    it('accepting: a bare HTTP/1.0 200, after 100 Continue when asked', () => {
      assert.equal(acceptBytes(false), 'HTTP/1.0 200 OK\r\n\r\n');
      assert.equal(acceptBytes(true), 'HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\nHTTP/1.0 200 OK\r\n\r\n');
    });
    it('a metadata update taken is Icecast\'s XML', () => assert.match(METADATA_OK, /<message>Metadata update successful<\/message><return>1<\/return>/));
  });

  describe('/admin/metadata and /admin.cgi queries', () => {
    it('butt / libshout: mode, mount, song (percent-encoded UTF-8, + is a space)', () => {
      const q = parseMetadataQuery('mode=updinfo&mount=%2Flive&song=%C3%89vening+Sh%C3%B6w+%E2%80%94+live');
      assert.deepEqual([q.mode, q.mount, q.song], ['updinfo', '/live', 'Évening Shöw — live']);
    });
    it('title and artist separately; admin.cgi\'s pass and user', () => {
      const q = parseMetadataQuery('mode=updinfo&title=Song&artist=Band&pass=p%40ss&user=alice');
      assert.deepEqual([q.title, q.artist, q.pass, q.user, q.song], ['Song', 'Band', 'p@ss', 'alice', undefined]);
    });
    it('charset=ISO-8859-1: the bytes are Latin-1', () => {
      assert.equal(parseMetadataQuery('mode=updinfo&charset=ISO-8859-1&song=Sch%F6n').song, 'Schön');
    });
    it('invalid UTF-8 keeps replacement characters; a bad escape stays as typed', () => {
      assert.equal(parseMetadataQuery('song=%FF%41').song, '\ufffdA');
      assert.equal(parseMetadataQuery('song=100%zz').song, '100%zz');
    });
  });
});

describe('resume without a token: a desktop source client coming back', () => {
  const ticket = (o: { ingest: IngestKind; gone: boolean }): ResumeTicket => new ResumeTicket({
    user: 'alice', sourcePassword: 'pw', ingest: o.ingest, shape: () => mediaShape(parseMime('audio/mpeg')!), clientGone: () => o.gone,
  });
  const claim = (o: Partial<{ token: string; user: string; ingest: IngestKind; mime: string }> = {}): Parameters<ResumeTicket['admits']>[0] => ({
    token: o.token, user: o.user ?? 'alice', sourcePassword: 'pw', ingest: o.ingest ?? 'icecast-source', shape: mediaShape(parseMime(o.mime ?? 'audio/mpeg')!),
  });

  it('the same host, the same door and kind of media, while the old connection is gone: admitted', () => {
    assert.equal(ticket({ ingest: 'icecast-source', gone: true }).admits(claim()), true);
  });
  it('while the old connection is still sending: not admitted (a second client is "Mountpoint in use")', () => {
    assert.equal(ticket({ ingest: 'icecast-source', gone: false }).admits(claim()), false);
  });
  it('another host, another kind of media, or the other door: not admitted', () => {
    const t = ticket({ ingest: 'icecast-source', gone: true });
    assert.equal(t.admits(claim({ user: 'bob' })), false);
    assert.equal(t.admits(claim({ mime: 'audio/aac' })), false);
    assert.equal(t.admits(claim({ ingest: 'websocket' })), false);
    assert.equal(ticket({ ingest: 'websocket', gone: true }).admits(claim()), false, 'a browser show needs its token');
  });
  it('a token, when presented, must be the right one', () => {
    const t = ticket({ ingest: 'websocket', gone: true });
    assert.equal(t.admits(claim({ ingest: 'websocket', token: t.token })), true);
    assert.equal(t.admits(claim({ ingest: 'websocket', token: 'x'.repeat(t.token.length) })), false);
  });
});

describe('BroadcastRegistry: a kicked broadcaster waits', () => {
  class Show extends EventEmitter {
    readonly isEnding = false;
    constructor(readonly stationMount: string, readonly user: string) { super(); }
    canResume(): boolean { return false; }
  }
  const sink: BroadcastSink = { sendStatus() {}, close() {} };
  const request = (r: BroadcastRegistry, user: string): ReturnType<BroadcastRegistry['claim']> => r.claim({
    stationMount: 'live', user, sourcePassword: 'pw', input: parseMime('audio/mpeg')!, resume: undefined, sink, stillWanted: () => true,
    create: () => new Show('live', user) as unknown as Broadcast,
  });

  it('refused on that station for kickBanMs with IW_ERR_KICKED_WAIT and the minutes left; others are not; then allowed again', async () => {
    const clock = new FakeClock();
    const r = new BroadcastRegistry({ maxBroadcasts: 5, logger: captureLogger().logger, clock, kickBanMs: 5 * 60000 });
    const first = await request(r, 'alice');
    assert.equal(first.kind, 'new');
    (first as { broadcast: EventEmitter }).broadcast.emit('ended', 'kicked');
    await assert.rejects(request(r, 'alice'), (e: unknown) => e instanceof IcewireError && e.code === 'IW_ERR_KICKED_WAIT' && /again in 5 minutes\./.test(e.message));
    await clock.advance(4 * 60000 + 30000);
    await assert.rejects(request(r, 'alice'), (e: unknown) => e instanceof IcewireError && /again in 1 minute\./.test(e.message));
    const bob = await request(r, 'bob');
    assert.equal(bob.kind, 'new', 'another host may go live');
    (bob as { broadcast: EventEmitter }).broadcast.emit('ended', 'stopped');
    await clock.advance(30001);
    assert.equal((await request(r, 'alice')).kind, 'new');
  });

  it('an end that is not a kick bans nobody; kickBanMs 0 bans nobody', async () => {
    for (const [reason, ms] of [['stopped', 60000], ['kicked', 0]] as const) {
      const r = new BroadcastRegistry({ maxBroadcasts: 5, logger: captureLogger().logger, clock: new FakeClock(), kickBanMs: ms });
      const c = await request(r, 'alice');
      (c as { broadcast: EventEmitter }).broadcast.emit('ended', reason);
      assert.equal((await request(r, 'alice')).kind, 'new', `${reason} with kickBanMs ${ms}`);
    }
  });
});
