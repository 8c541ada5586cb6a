// The request head icewire writes to Icecast on a raw socket (as latin1): request line, Basic
// auth, bare Content-Type, no chunked encoding (docs/notes/icecast.md), ice-* headers, and header values that
// can neither inject a header nor lose their UTF-8.
import assert from 'node:assert/strict';
import { buildSourceRequest, type IceHeaders } from '../../server/icecast/icecast-source.js';

type RequestOptions = Parameters<typeof buildSourceRequest>[0];

function opts(over: Partial<RequestOptions> = {}): RequestOptions {
  return {
    url: 'http://127.0.0.1:8000',
    mount: '/live.ogg',
    user: 'source',
    password: 'hackme',
    contentType: 'audio/ogg',
    ice: {},
    ...over,
  };
}

interface Parsed { requestLine: string; headers: [string, string][]; rest: string }

/** Split the head the way Icecast does: CRLF-separated lines up to the first blank line. */
function parse(req: string): Parsed {
  const end = req.indexOf('\r\n\r\n');
  assert.ok(end >= 0, 'the head ends with a blank line');
  const [requestLine, ...lines] = req.slice(0, end).split('\r\n');
  const headers = lines.map((l): [string, string] => {
    const colon = l.indexOf(':');
    assert.ok(colon > 0, `header line without a colon: ${JSON.stringify(l)}`);
    return [l.slice(0, colon).toLowerCase(), l.slice(colon + 1).trim()];
  });
  return { requestLine: requestLine!, headers, rest: req.slice(end + 4) };
}

function header(p: Parsed, name: string): string | undefined {
  const found = p.headers.filter(([k]) => k === name);
  assert.ok(found.length <= 1, `${name} appears ${found.length} times`);
  return found[0]?.[1];
}

describe('buildSourceRequest', () => {
  describe('request line', () => {
    const rows: { what: string; over: Partial<RequestOptions>; want: string }[] = [
      { what: 'PUT by default', over: {}, want: 'PUT /live.ogg HTTP/1.1' },
      { what: 'PUT with legacySource false', over: { legacySource: false }, want: 'PUT /live.ogg HTTP/1.1' },
      { what: 'legacy SOURCE', over: { legacySource: true }, want: 'SOURCE /live.ogg HTTP/1.0' },
      { what: 'a trailing slash on the URL', over: { url: 'http://127.0.0.1:8000/' }, want: 'PUT /live.ogg HTTP/1.1' },
      { what: 'a base path in the URL (Icecast behind a proxy)', over: { url: 'https://radio.example.org/icecast' }, want: 'PUT /icecast/live.ogg HTTP/1.1' },
      { what: 'a base path with a trailing slash', over: { url: 'https://radio.example.org/icecast/' }, want: 'PUT /icecast/live.ogg HTTP/1.1' },
      { what: 'a base path with SOURCE', over: { url: 'http://h:8000/a/b', legacySource: true, mount: '/x.mp3' }, want: 'SOURCE /a/b/x.mp3 HTTP/1.0' },
    ];
    for (const r of rows) {
      it(`${r.what}: ${r.want}`, () => {
        assert.equal(parse(buildSourceRequest(opts(r.over))).requestLine, r.want);
      });
    }
  });

  describe('fixed headers', () => {
    const rows: { what: string; over: Partial<RequestOptions>; name: string; want: string | undefined }[] = [
      { what: 'Host with port', over: {}, name: 'host', want: '127.0.0.1:8000' },
      { what: 'Host with the default port dropped', over: { url: 'https://radio.example.org:443/icecast' }, name: 'host', want: 'radio.example.org' },
      { what: 'Host for an IPv6 address', over: { url: 'http://[::1]:8000' }, name: 'host', want: '[::1]:8000' },
      { what: 'Authorization for source:hackme', over: {}, name: 'authorization', want: `Basic ${Buffer.from('source:hackme').toString('base64')}` },
      { what: 'Authorization keeps a colon in the password', over: { password: 'a:b' }, name: 'authorization', want: `Basic ${Buffer.from('source:a:b').toString('base64')}` },
      { what: 'Authorization encodes a UTF-8 password as UTF-8', over: { user: 'dj', password: 'pässwörd☕' }, name: 'authorization', want: `Basic ${Buffer.from('dj:pässwörd☕', 'utf8').toString('base64')}` },
      { what: 'bare Content-Type audio/ogg', over: {}, name: 'content-type', want: 'audio/ogg' },
      { what: 'bare Content-Type audio/mpeg', over: { contentType: 'audio/mpeg' }, name: 'content-type', want: 'audio/mpeg' },
      { what: 'bare Content-Type video/webm', over: { contentType: 'video/webm' }, name: 'content-type', want: 'video/webm' },
      { what: 'no Transfer-Encoding (Icecast does not de-chunk)', over: {}, name: 'transfer-encoding', want: undefined },
      { what: 'no Transfer-Encoding with SOURCE', over: { legacySource: true }, name: 'transfer-encoding', want: undefined },
      { what: 'no Expect: 100-continue', over: {}, name: 'expect', want: undefined },
      { what: 'a User-Agent', over: {}, name: 'user-agent', want: 'icewire/0.1' },
    ];
    for (const r of rows) {
      it(`${r.what}`, () => {
        assert.equal(header(parse(buildSourceRequest(opts(r.over))), r.name), r.want);
      });
    }

    it('Authorization decodes back to user:password', () => {
      const auth = header(parse(buildSourceRequest(opts({ user: 'source', password: 's3cr3t!' }))), 'authorization')!;
      assert.match(auth, /^Basic [A-Za-z0-9+/]+=*$/);
      assert.equal(Buffer.from(auth.slice('Basic '.length), 'base64').toString('utf8'), 'source:s3cr3t!');
    });

    it('nothing follows the head (the body is the stream, written later)', () => {
      const req = buildSourceRequest(opts());
      assert.ok(req.endsWith('\r\n\r\n'));
      assert.equal(parse(req).rest, '');
    });

    it('the password appears only inside the base64 credentials', () => {
      const req = buildSourceRequest(opts({ password: 'very-secret-pw' }));
      assert.ok(!req.includes('very-secret-pw'));
    });
  });

  describe('ice-* headers', () => {
    const full: IceHeaders = {
      name: 'Radio Test', description: 'A test station', genre: 'Jazz', url: 'https://radio.example.org/',
      public: true, bitrate: 128, audioInfo: 'samplerate=48000;bitrate=128',
    };
    const rows: { what: string; ice: IceHeaders; want: Record<string, string | undefined> }[] = [
      {
        what: 'all present',
        ice: full,
        want: {
          'ice-name': 'Radio Test', 'ice-description': 'A test station', 'ice-genre': 'Jazz', 'ice-url': 'https://radio.example.org/',
          'ice-public': '1', 'ice-bitrate': '128', 'ice-audio-info': 'samplerate=48000;bitrate=128',
        },
      },
      {
        what: 'none given: only ice-public: 0',
        ice: {},
        want: {
          'ice-name': undefined, 'ice-description': undefined, 'ice-genre': undefined, 'ice-url': undefined,
          'ice-public': '0', 'ice-bitrate': undefined, 'ice-audio-info': undefined,
        },
      },
      { what: 'public false -> ice-public: 0', ice: { public: false }, want: { 'ice-public': '0' } },
      { what: 'public true -> ice-public: 1', ice: { public: true }, want: { 'ice-public': '1' } },
      { what: 'empty strings are left out', ice: { name: '', description: '', genre: '' }, want: { 'ice-name': undefined, 'ice-description': undefined, 'ice-genre': undefined } },
      { what: 'a copy rendition: no ice-bitrate, audio info without bitrate', ice: { bitrate: undefined, audioInfo: 'samplerate=48000' }, want: { 'ice-bitrate': undefined, 'ice-audio-info': 'samplerate=48000' } },
      { what: 'only a name', ice: { name: 'Only Name' }, want: { 'ice-name': 'Only Name', 'ice-description': undefined } },
    ];
    for (const r of rows) {
      it(`${r.what}`, () => {
        const p = parse(buildSourceRequest(opts({ ice: r.ice })));
        for (const [name, value] of Object.entries(r.want)) assert.equal(header(p, name), value, name);
      });
    }
  });

  describe('header values are safe', () => {
    const injections: { what: string; ice: IceHeaders; field: string }[] = [
      { what: 'CRLF in the name', ice: { name: 'Evil\r\nice-public: 1\r\nX-Injected: yes' }, field: 'ice-name' },
      { what: 'a bare LF in the description', ice: { description: 'line\nX-Injected: yes' }, field: 'ice-description' },
      { what: 'a bare CR in the genre', ice: { genre: 'a\rX-Injected: yes' }, field: 'ice-genre' },
      { what: 'a blank line in the URL (would end the head)', ice: { url: 'https://x/\r\n\r\nX-Injected: yes' }, field: 'ice-url' },
    ];
    for (const r of injections) {
      it(`${r.what} cannot inject a header`, () => {
        const p = parse(buildSourceRequest(opts({ ice: r.ice })));
        assert.equal(header(p, 'x-injected'), undefined);
        assert.equal(header(p, 'ice-public'), '0');
        assert.equal(p.rest, '', 'the head still ends where it should');
        assert.match(header(p, r.field) ?? '', /X-Injected: yes$/, 'the text stays, on one line');
      });
    }

    it('a 5000-character description is cut to 1000 characters', () => {
      const p = parse(buildSourceRequest(opts({ ice: { description: 'd'.repeat(5000) } })));
      assert.equal(header(p, 'ice-description'), 'd'.repeat(1000));
    });

    const utf8: { what: string; ice: IceHeaders; text: string }[] = [
      { what: 'ice-name "Radio Café ☕"', ice: { name: 'Radio Café ☕' }, text: 'Radio Café ☕' },
      { what: 'ice-description with emoji', ice: { description: 'Live 🎙️ från Göteborg' }, text: 'Live 🎙️ från Göteborg' },
      { what: 'ice-genre in Cyrillic', ice: { genre: 'Джаз' }, text: 'Джаз' },
    ];
    for (const r of utf8) {
      it(`${r.what}: written as latin1, the bytes on the wire are its UTF-8`, () => {
        const wire = Buffer.from(buildSourceRequest(opts({ ice: r.ice })), 'latin1');
        assert.ok(wire.includes(Buffer.from(r.text, 'utf8')), 'UTF-8 bytes on the wire');
        // not the lossy latin1 form of the string (each UTF-16 unit cut to its low byte)
        assert.ok(!wire.includes(Buffer.from(r.text, 'latin1')), 'no latin1-truncated text');
      });
    }
  });
});
