// parseMime: what a broadcaster's hello announces (the first bytes are checked by the demuxer)
// Mimes are the ones MediaRecorder produces in Chromium and Firefox (docs/notes/browsers.md).
import assert from 'node:assert/strict';
import { parseMime, type Container, type InputMedia } from '../../server/pipeline/media-type.js';

type Parsed = Pick<InputMedia, 'container' | 'audio' | 'video'>;

const ACCEPTED: { mime: string; want: Parsed }[] = [
  { mime: 'audio/webm;codecs=opus', want: { container: 'webm', audio: 'opus', video: undefined } },
  { mime: 'audio/webm', want: { container: 'webm', audio: 'opus', video: undefined } },
  { mime: 'AUDIO/WEBM; CODECS="opus"', want: { container: 'webm', audio: 'opus', video: undefined } },
  { mime: 'audio/ogg;codecs=opus', want: { container: 'ogg', audio: 'opus', video: undefined } },
  { mime: 'audio/ogg', want: { container: 'ogg', audio: 'opus', video: undefined } },
  { mime: 'video/webm;codecs=vp8,opus', want: { container: 'webm', audio: 'opus', video: 'vp8' } },
  { mime: 'video/webm;codecs=vp9,opus', want: { container: 'webm', audio: 'opus', video: 'vp9' } },
  { mime: 'video/webm;codecs="vp8.0, opus"', want: { container: 'webm', audio: 'opus', video: 'vp8' } },
  { mime: 'video/webm;codecs=vp09.00.10.08,opus', want: { container: 'webm', audio: 'opus', video: 'vp9' } },
  { mime: 'video/webm;codecs=opus,vp8', want: { container: 'webm', audio: 'opus', video: 'vp8' } },
  { mime: 'video/webm', want: { container: 'webm', audio: 'opus', video: 'vp8' } },
];

const REJECTED: { what: string; mime: unknown }[] = [
  { what: 'audio/mp4', mime: 'audio/mp4' },
  { what: 'video/mp4;codecs=avc1', mime: 'video/mp4;codecs=avc1' },
  { what: 'video/webm;codecs=h264,opus (Chromium can record it, icewire cannot copy it)', mime: 'video/webm;codecs=h264,opus' },
  { what: 'video/webm;codecs=av1,opus', mime: 'video/webm;codecs=av1,opus' },
  { what: 'audio/webm;codecs=pcm', mime: 'audio/webm;codecs=pcm' },
  { what: 'video/ogg', mime: 'video/ogg' },
  { what: 'audio/ogg;codecs=vorbis', mime: 'audio/ogg;codecs=vorbis' },
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
];

