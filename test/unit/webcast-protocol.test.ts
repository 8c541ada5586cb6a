// The webcast text protocol: hello and metadata parse, unknown types pass, and every malformed
// frame fails with the one stable code IW_ERR_PROTO_BAD_MESSAGE (asserted on the code, not text).
import assert from 'node:assert/strict';
import { IcewireError } from '../../server/errors.js';
import { parseClientMessage, type ClientMessage, type Metadata } from '../../server/ingest/webcast-protocol.js';
import { displayTitle as formatTitle } from '../../server/broadcast/ogg-fanout.js';

const j = (v: unknown): string => JSON.stringify(v);

const VALID: { what: string; text: string; want: ClientMessage }[] = [
  {
    what: 'a hello with only the mime',
    text: j({ type: 'hello', data: { mime: 'audio/webm;codecs=opus' } }),
    want: { type: 'hello', hello: { mime: 'audio/webm;codecs=opus', user: undefined, password: undefined, name: undefined, description: undefined, resume: undefined, token: undefined } },
  },
  {
    what: 'a hello with every optional key',
    text: j({ type: 'hello', data: { mime: 'video/webm;codecs=vp8,opus', user: 'alice', password: 'pw', name: 'Show', description: 'Desc', resume: 'tok', token: 'login' } }),
    want: { type: 'hello', hello: { mime: 'video/webm;codecs=vp8,opus', user: 'alice', password: 'pw', name: 'Show', description: 'Desc', resume: 'tok', token: 'login' } },
  },
  {
    what: 'a hello with null optional keys (treated as absent)',
    text: j({ type: 'hello', data: { mime: 'audio/ogg', user: null, password: null } }),
    want: { type: 'hello', hello: { mime: 'audio/ogg', user: undefined, password: undefined, name: undefined, description: undefined, resume: undefined, token: undefined } },
  },
  {
    what: 'a hello with extra keys (webcast.js sends more; ignored)',
    text: j({ type: 'hello', data: { mime: 'audio/webm', audio: { channels: 2, samplerate: 48000 }, user: 'bob' } }),
    want: { type: 'hello', hello: { mime: 'audio/webm', user: 'bob', password: undefined, name: undefined, description: undefined, resume: undefined, token: undefined } },
  },
  {
    what: 'a hello with fields at their maximum length',
    text: j({ type: 'hello', data: { mime: 'm'.repeat(200), user: 'u'.repeat(200), password: 'p'.repeat(1000), name: 'n'.repeat(200), description: 'd'.repeat(1000), resume: 'r'.repeat(200) } }),
    want: { type: 'hello', hello: { mime: 'm'.repeat(200), user: 'u'.repeat(200), password: 'p'.repeat(1000), name: 'n'.repeat(200), description: 'd'.repeat(1000), resume: 'r'.repeat(200), token: undefined } },
  },
  {
    what: 'metadata with title and artist',
    text: j({ type: 'metadata', data: { title: 'Song', artist: 'Band' } }),
    want: { type: 'metadata', metadata: { title: 'Song', artist: 'Band' } },
  },
  {
    what: 'a title and artist over 1000 characters: cut to 1000, not refused (a title must not end the show)',
    text: j({ type: 'metadata', data: { title: 't'.repeat(5000), artist: 'a'.repeat(1001) } }),
    want: { type: 'metadata', metadata: { title: 't'.repeat(1000), artist: 'a'.repeat(1000) } },
  },
  {
    what: 'a long title cut before an emoji, not through it',
    text: j({ type: 'metadata', data: { title: `${'t'.repeat(999)}🎵🎵` } }),
    want: { type: 'metadata', metadata: { title: 't'.repeat(999), artist: undefined } },
  },
  {
    what: 'metadata with no data at all',
    text: j({ type: 'metadata' }),
    want: { type: 'metadata', metadata: { title: undefined, artist: undefined } },
  },
  {
    what: 'metadata with data: null',
    text: j({ type: 'metadata', data: null }),
    want: { type: 'metadata', metadata: { title: undefined, artist: undefined } },
  },
  {
    what: 'an unknown type (ignored by the server, for webcast compatibility)',
    text: j({ type: 'ping', data: { x: 1 } }),
    want: { type: 'unknown', name: 'ping' },
  },
  {
    what: 'an unknown type without data',
    text: j({ type: 'future-thing' }),
    want: { type: 'unknown', name: 'future-thing' },
  },
  {
    what: 'an over-long unknown type name is cut to 50 characters',
    text: j({ type: 't'.repeat(500) }),
    want: { type: 'unknown', name: 't'.repeat(50) },
  },
];

const MALFORMED: { what: string; text: string }[] = [
  { what: 'not JSON', text: 'hello' },
  { what: 'truncated JSON', text: '{"type":"hello","data":{' },
  { what: 'the empty string', text: '' },
  { what: 'a JSON array', text: j([{ type: 'hello' }]) },
  { what: 'a JSON number', text: '42' },
  { what: 'a JSON string', text: j('hello') },
  { what: 'JSON null', text: 'null' },
  { what: 'JSON true', text: 'true' },
  { what: 'an object with no type', text: j({ data: { mime: 'audio/webm' } }) },
  { what: 'a numeric type', text: j({ type: 1 }) },
  { what: 'a null type', text: j({ type: null }) },
  { what: 'an object type', text: j({ type: { name: 'hello' } }) },
  { what: 'data as a string', text: j({ type: 'hello', data: 'audio/webm' }) },
  { what: 'data as an array', text: j({ type: 'hello', data: ['audio/webm'] }) },
  { what: 'data as a number', text: j({ type: 'metadata', data: 3 }) },
  { what: 'data not an object on an unknown type', text: j({ type: 'ping', data: 'x' }) },
  { what: 'a hello without data', text: j({ type: 'hello' }) },
  { what: 'a hello without mime', text: j({ type: 'hello', data: { user: 'alice' } }) },
  { what: 'a hello with mime: null', text: j({ type: 'hello', data: { mime: null } }) },
  { what: 'a hello with a numeric mime', text: j({ type: 'hello', data: { mime: 5 } }) },
  { what: 'a non-string password', text: j({ type: 'hello', data: { mime: 'audio/webm', password: 1234 } }) },
  { what: 'an object password', text: j({ type: 'hello', data: { mime: 'audio/webm', password: { hash: 'x' } } }) },
  { what: 'a boolean user', text: j({ type: 'hello', data: { mime: 'audio/webm', user: true } }) },
  { what: 'a mime over 200 characters', text: j({ type: 'hello', data: { mime: 'm'.repeat(201) } }) },
  { what: 'a user over 200 characters', text: j({ type: 'hello', data: { mime: 'audio/webm', user: 'u'.repeat(201) } }) },
  { what: 'a password over 1000 characters', text: j({ type: 'hello', data: { mime: 'audio/webm', password: 'p'.repeat(1001) } }) },
  { what: 'a name over 200 characters', text: j({ type: 'hello', data: { mime: 'audio/webm', name: 'n'.repeat(201) } }) },
  { what: 'a description over 1000 characters', text: j({ type: 'hello', data: { mime: 'audio/webm', description: 'd'.repeat(1001) } }) },
  { what: 'a resume token over 200 characters', text: j({ type: 'hello', data: { mime: 'audio/webm', resume: 'r'.repeat(201) } }) },
  { what: 'a numeric metadata artist', text: j({ type: 'metadata', data: { artist: 7 } }) },
  { what: 'a text frame over 16 KiB', text: j({ type: 'metadata', data: { title: 'ok', pad: 'x'.repeat(16 * 1024) } }) },
  { what: 'over 16 KiB of whitespace around valid JSON', text: `${' '.repeat(16 * 1024)}${j({ type: 'metadata' })}` },
];

describe('parseClientMessage', () => {
  for (const r of VALID) {
    it(`parses ${r.what}`, () => {
      assert.deepEqual(parseClientMessage(r.text), r.want);
    });
  }

  for (const r of MALFORMED) {
    it(`refuses ${r.what} with IW_ERR_PROTO_BAD_MESSAGE`, () => {
      assert.throws(() => parseClientMessage(r.text), (err: unknown) => {
        assert.ok(err instanceof IcewireError, `threw ${String(err)}`);
        assert.equal(err.code, 'IW_ERR_PROTO_BAD_MESSAGE');
        assert.equal(err.closeCode, 4400);
        return true;
      });
    });
  }

  it('a frame of exactly 16 KiB is still read', () => {
    const base = j({ type: 'metadata', data: { title: 'ok', pad: '' } });
    const text = j({ type: 'metadata', data: { title: 'ok', pad: 'x'.repeat(16 * 1024 - base.length) } });
    assert.equal(text.length, 16 * 1024);
    assert.equal(parseClientMessage(text).type, 'metadata');
  });
});

describe('formatTitle', () => {
  const rows: { what: string; m: Metadata; want: string | undefined }[] = [
    { what: 'artist and title', m: { title: 'Song', artist: 'Band' }, want: 'Band - Song' },
    { what: 'title only', m: { title: 'Song', artist: undefined }, want: 'Song' },
    { what: 'artist only', m: { title: undefined, artist: 'Band' }, want: 'Band' },
    { what: 'neither', m: { title: undefined, artist: undefined }, want: undefined },
    { what: 'both empty', m: { title: '', artist: '' }, want: undefined },
    { what: 'both whitespace', m: { title: '  ', artist: '\t' }, want: undefined },
    { what: 'padding trimmed', m: { title: '  Song ', artist: ' Band  ' }, want: 'Band - Song' },
    { what: 'whitespace artist with a title', m: { title: 'Song', artist: '   ' }, want: 'Song' },
    { what: 'empty title with an artist', m: { title: '', artist: 'Band' }, want: 'Band' },
    { what: 'UTF-8 kept as is', m: { title: 'Café ☕', artist: 'Björk' }, want: 'Björk - Café ☕' },
  ];
  for (const r of rows) {
    it(`${r.what} -> ${JSON.stringify(r.want)}`, () => {
      assert.equal(formatTitle(r.m), r.want);
    });
  }
});
