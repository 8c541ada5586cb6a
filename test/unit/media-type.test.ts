// parseMime: what a broadcaster's hello (or a source client's Content-Type) announces, and
// checkMagic / sniffContainer: whether the first bytes confirm it. Mimes are the ones MediaRecorder
// produces in Chromium, Firefox and Safari (docs/notes/browsers.md) and the Content-Types desktop
// source clients send.
import assert from 'node:assert/strict';
import { checkMagic, parseMime, sniffContainer, type Container, type InputMedia } from '../../server/pipeline/media-type.js';

type Parsed = Pick<InputMedia, 'container' | 'audio' | 'video'>;

const ACCEPTED: { mime: string; want: Parsed }[] = [
  { mime: 'audio/webm;codecs=opus', want: { container: 'webm', audio: 'opus', video: undefined } },
  { mime: 'audio/webm', want: { container: 'webm', audio: 'opus', video: undefined } },
  { mime: 'AUDIO/WEBM; CODECS="opus"', want: { container: 'webm', audio: 'opus', video: undefined } },
  { mime: 'audio/ogg;codecs=opus', want: { container: 'ogg', audio: 'opus', video: undefined } },
  // the Ogg stream's first page says Opus, Vorbis or FLAC
  { mime: 'audio/ogg', want: { container: 'ogg', audio: undefined, video: undefined } },
  { mime: 'application/ogg', want: { container: 'ogg', audio: undefined, video: undefined } },
  { mime: 'audio/ogg;codecs=vorbis', want: { container: 'ogg', audio: 'vorbis', video: undefined } },
  { mime: 'audio/ogg; codecs=flac', want: { container: 'ogg', audio: 'flac', video: undefined } },
  // Safari records AAC, Chromium Opus, under the same type: the header tells
  { mime: 'audio/mp4', want: { container: 'mp4', audio: undefined, video: undefined } },
  { mime: 'audio/mp4;codecs=opus', want: { container: 'mp4', audio: 'opus', video: undefined } },
  { mime: 'audio/mp4;codecs=mp4a.40.2', want: { container: 'mp4', audio: 'aac', video: undefined } },
  { mime: 'video/mp4', want: { container: 'mp4', audio: undefined, video: 'h264' } },
  { mime: 'video/mp4;codecs=avc1.42E01E,mp4a.40.2', want: { container: 'mp4', audio: 'aac', video: 'h264' } },
  { mime: 'video/mp4;codecs=vp9,opus', want: { container: 'mp4', audio: 'opus', video: 'vp9' } },
  // desktop source clients
  { mime: 'audio/mpeg', want: { container: 'mp3', audio: 'mp3', video: undefined } },
  { mime: 'audio/aac', want: { container: 'adts', audio: 'aac', video: undefined } },
  { mime: 'audio/aacp', want: { container: 'adts', audio: 'aac', video: undefined } },
  { mime: 'audio/flac', want: { container: 'flac', audio: 'flac', video: undefined } },
  { mime: 'video/webm;codecs=vp8,opus', want: { container: 'webm', audio: 'opus', video: 'vp8' } },
  { mime: 'video/webm;codecs=vp9,opus', want: { container: 'webm', audio: 'opus', video: 'vp9' } },
  { mime: 'video/webm;codecs="vp8.0, opus"', want: { container: 'webm', audio: 'opus', video: 'vp8' } },
  { mime: 'video/webm;codecs=vp09.00.10.08,opus', want: { container: 'webm', audio: 'opus', video: 'vp9' } },
  { mime: 'video/webm;codecs=opus,vp8', want: { container: 'webm', audio: 'opus', video: 'vp8' } },
  { mime: 'video/webm', want: { container: 'webm', audio: 'opus', video: 'vp8' } },
];

const REJECTED: { what: string; mime: unknown }[] = [
  { what: 'video/mp4;codecs=avc1 (no audio)', mime: 'video/mp4;codecs=avc1' },
  { what: 'audio/mp4;codecs=mp4a.6b (MP3 in MP4)', mime: 'audio/mp4;codecs=mp4a.6b' },
  { what: 'audio/mpeg;codecs=opus (a codec the container cannot carry)', mime: 'audio/mpeg;codecs=opus' },
  { what: 'video/x-flv', mime: 'video/x-flv' },
  { what: 'audio/wav', mime: 'audio/wav' },
  { what: 'video/webm;codecs=h264,opus (Chromium can record it, icewire cannot copy it)', mime: 'video/webm;codecs=h264,opus' },
  { what: 'video/webm;codecs=av1,opus', mime: 'video/webm;codecs=av1,opus' },
  { what: 'audio/webm;codecs=pcm', mime: 'audio/webm;codecs=pcm' },
  { what: 'video/ogg', mime: 'video/ogg' },
  { what: 'audio/webm;codecs=vp8 (video codec in an audio type)', mime: 'audio/webm;codecs=vp8' },
  { what: 'video/webm;codecs=vp8 (no audio track to send)', mime: 'video/webm;codecs=vp8' },
  { what: 'video/webm;codecs=vp8,vp9,opus (two video codecs)', mime: 'video/webm;codecs=vp8,vp9,opus' },
  { what: 'text/plain', mime: 'text/plain' },
  { what: 'a number', mime: 42 },
  { what: 'undefined', mime: undefined },
  { what: 'null', mime: null },
  { what: 'an object', mime: { type: 'audio/webm' } },
  { what: 'a 1000-character string', mime: `audio/webm;codecs=opus;x=${'a'.repeat(1000 - 25)}` },
  { what: 'the empty string', mime: '' },
];

describe('parseMime', () => {
  for (const { mime, want } of ACCEPTED) {
    it(`accepts ${mime} as ${want.container}/${want.audio}${want.video ? `+${want.video}` : ''}`, () => {
      const got = parseMime(mime);
      assert.ok(got !== undefined, `${mime} should be accepted`);
      assert.deepEqual({ container: got.container, audio: got.audio, video: got.video }, want);
      assert.equal(got.mime, mime, 'keeps the mime as sent, for logs');
    });
  }

  for (const { what, mime } of REJECTED) {
    it(`rejects ${what}`, () => {
      assert.equal(parseMime(mime), undefined);
    });
  }

  it('the 1000-character case really is 1000 characters', () => {
    assert.equal((REJECTED.find((r) => r.what.startsWith('a 1000'))!.mime as string).length, 1000);
  });
});

const WEBM = [0x1a, 0x45, 0xdf, 0xa3];
const OGG = [0x4f, 0x67, 0x67, 0x53]; // "OggS"

const MAGIC_CASES: { what: string; container: Container; bytes: number[]; want: 'ok' | 'bad' | 'need-more' }[] = [
  { what: 'EBML magic', container: 'webm', bytes: WEBM, want: 'ok' },
  { what: 'EBML magic followed by more header', container: 'webm', bytes: [...WEBM, 0x9f, 0x42, 0x86, 0x81], want: 'ok' },
  { what: 'OggS', container: 'ogg', bytes: OGG, want: 'ok' },
  { what: 'OggS followed by a page header', container: 'ogg', bytes: [...OGG, 0x00, 0x02], want: 'ok' },
  { what: 'Ogg bytes announced as WebM', container: 'webm', bytes: OGG, want: 'bad' },
  { what: 'WebM bytes announced as Ogg', container: 'ogg', bytes: WEBM, want: 'bad' },
  { what: 'an MP4 ftyp box as WebM', container: 'webm', bytes: [0x00, 0x00, 0x00, 0x20, 0x66, 0x74, 0x79, 0x70], want: 'bad' },
  { what: 'last magic byte wrong', container: 'webm', bytes: [0x1a, 0x45, 0xdf, 0x00], want: 'bad' },
  { what: 'a wrong first byte alone', container: 'webm', bytes: [0x00], want: 'bad' },
  { what: 'a wrong second byte in a 2-byte chunk', container: 'ogg', bytes: [0x4f, 0x00], want: 'bad' },
  { what: '0 bytes (webm)', container: 'webm', bytes: [], want: 'need-more' },
  { what: '1 byte (webm) — Chromium video can send a 1-byte first chunk', container: 'webm', bytes: WEBM.slice(0, 1), want: 'need-more' },
  { what: '2 bytes (webm)', container: 'webm', bytes: WEBM.slice(0, 2), want: 'need-more' },
  { what: '3 bytes (webm)', container: 'webm', bytes: WEBM.slice(0, 3), want: 'need-more' },
  { what: '0 bytes (ogg)', container: 'ogg', bytes: [], want: 'need-more' },
  { what: '1 byte (ogg)', container: 'ogg', bytes: OGG.slice(0, 1), want: 'need-more' },
  { what: '2 bytes (ogg)', container: 'ogg', bytes: OGG.slice(0, 2), want: 'need-more' },
  { what: '3 bytes (ogg)', container: 'ogg', bytes: OGG.slice(0, 3), want: 'need-more' },
  { what: 'an MP4 ftyp box', container: 'mp4', bytes: [0x00, 0x00, 0x00, 0x20, 0x66, 0x74, 0x79, 0x70], want: 'ok' },
  { what: 'an MP4 box size without its type yet', container: 'mp4', bytes: [0x00, 0x00, 0x00, 0x20], want: 'need-more' },
  { what: 'an MP4 moov first (not how a stream starts)', container: 'mp4', bytes: [0x00, 0x00, 0x00, 0x20, 0x6d, 0x6f, 0x6f, 0x76], want: 'bad' },
  { what: 'an MP3 frame sync (MPEG-1 layer III)', container: 'mp3', bytes: [0xff, 0xfb, 0x90, 0x64], want: 'ok' },
  { what: 'an ID3 tag before MP3 frames', container: 'mp3', bytes: [0x49, 0x44, 0x33, 0x04, 0x00], want: 'ok' },
  { what: 'an ADTS sync announced as MP3', container: 'mp3', bytes: [0xff, 0xf1, 0x50, 0x80], want: 'bad' },
  { what: 'an ADTS sync', container: 'adts', bytes: [0xff, 0xf1, 0x50, 0x80], want: 'ok' },
  { what: 'an MP3 sync announced as AAC', container: 'adts', bytes: [0xff, 0xfb, 0x90, 0x64], want: 'bad' },
  { what: 'Ogg bytes announced as MP3', container: 'mp3', bytes: OGG, want: 'bad' },
  { what: 'text announced as MP3', container: 'mp3', bytes: [...Buffer.from('GET / HTTP')], want: 'bad' },
  { what: '1 byte 0xff (mp3)', container: 'mp3', bytes: [0xff], want: 'need-more' },
  { what: 'fLaC', container: 'flac', bytes: [...Buffer.from('fLaC')], want: 'ok' },
];

describe('checkMagic: the first bytes confirm the announced container', () => {
  for (const c of MAGIC_CASES) {
    it(`${c.what}: ${c.want}`, () => {
      assert.equal(checkMagic(c.container, Uint8Array.from(c.bytes)), c.want);
    });
  }
});

describe('sniffContainer: what the first bytes are', () => {
  const rows: { what: string; bytes: number[]; want: ReturnType<typeof sniffContainer> }[] = [
    { what: 'WebM', bytes: WEBM, want: 'webm' },
    { what: 'Ogg', bytes: OGG, want: 'ogg' },
    { what: 'MP4', bytes: [0, 0, 0, 0x1c, 0x66, 0x74, 0x79, 0x70], want: 'mp4' },
    { what: 'MP3', bytes: [0xff, 0xfb, 0x90, 0x64], want: 'mp3' },
    { what: 'ADTS', bytes: [0xff, 0xf1, 0x50, 0x80], want: 'adts' },
    { what: 'ID3', bytes: [0x49, 0x44, 0x33, 4], want: 'id3' },
    { what: 'random text', bytes: [...Buffer.from('hello world')], want: undefined },
    { what: 'one byte that could start several', bytes: [0xff], want: 'need-more' },
  ];
  for (const r of rows) it(`${r.what}: ${String(r.want)}`, () => assert.equal(sniffContainer(Uint8Array.from(r.bytes)), r.want));
});

