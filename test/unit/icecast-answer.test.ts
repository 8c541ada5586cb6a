// Icecast 2.4.4's answers to a source client (docs/notes/icecast.md) -> error codes, and the response-head
// parser the raw-socket source client uses.
import assert from 'node:assert/strict';
import type { ErrorCode } from '../../server/errors.js';
import { classifyIcecastAnswer, isUnreachable, parseResponseHead } from '../../server/icecast/icecast-answer.js';

describe('classifyIcecastAnswer', () => {
  const rows: { what: string; status: number; body: string; want: ErrorCode | undefined }[] = [
    { what: '200 (accepted)', status: 200, body: '', want: undefined },
    { what: '204 (any 2xx is accepted)', status: 204, body: '', want: undefined },
    { what: '401 You need to authenticate', status: 401, body: 'You need to authenticate\r\n', want: 'IW_ERR_ICECAST_AUTH' },
    { what: '401 with an empty body', status: 401, body: '', want: 'IW_ERR_ICECAST_AUTH' },
    { what: '403 Mountpoint in use', status: 403, body: 'Mountpoint in use', want: 'IW_ERR_ICECAST_MOUNT_IN_USE' },
    { what: '403 mountpoint in use, other case, in HTML', status: 403, body: '<html><b>MOUNTPOINT IN USE</b></html>', want: 'IW_ERR_ICECAST_MOUNT_IN_USE' },
    { what: '403 too many sources connected', status: 403, body: 'too many sources connected', want: 'IW_ERR_ICECAST_LIMIT' },
    { what: '403 No Content-type given', status: 403, body: 'No Content-type given', want: 'IW_ERR_ICECAST_REFUSED' },
    { what: '403 with an empty body', status: 403, body: '', want: 'IW_ERR_ICECAST_REFUSED' },
    { what: '404', status: 404, body: 'The file you requested could not be found', want: 'IW_ERR_ICECAST_REFUSED' },
    { what: '500', status: 500, body: 'Internal Server Error', want: 'IW_ERR_ICECAST_REFUSED' },
    { what: '100 (never asked for: not an acceptance)', status: 100, body: '', want: 'IW_ERR_ICECAST_REFUSED' },
    { what: '301 redirect', status: 301, body: '', want: 'IW_ERR_ICECAST_REFUSED' },
  ];
  for (const r of rows) {
    it(`${r.what} -> ${String(r.want)}`, () => {
      assert.equal(classifyIcecastAnswer({ status: r.status, body: r.body }), r.want);
    });
  }
});

describe('isUnreachable', () => {
  const rows: { code: string | undefined; want: boolean }[] = [
    { code: 'ECONNREFUSED', want: true },
    { code: 'ECONNRESET', want: true },
    { code: 'EHOSTUNREACH', want: true },
    { code: 'ENETUNREACH', want: true },
    { code: 'ENOTFOUND', want: true },
    { code: 'EAI_AGAIN', want: true },
    { code: 'ETIMEDOUT', want: true },
    { code: 'EPIPE', want: true },
    { code: 'ERR_TLS_CERT_ALTNAME_INVALID', want: false },
    { code: 'DEPTH_ZERO_SELF_SIGNED_CERT', want: false },
    { code: 'EACCES', want: false },
    { code: '', want: false },
    { code: undefined, want: false },
  ];
  for (const r of rows) {
    it(`${String(r.code)} -> ${r.want}`, () => {
      assert.equal(isUnreachable(r.code), r.want);
    });
  }
});

describe('parseResponseHead', () => {
  const ok: { what: string; text: string; status: number; headerBytes: number }[] = [
    { what: "Icecast 2.4.4's bare HTTP/1.0 200 OK", text: 'HTTP/1.0 200 OK\r\n\r\n', status: 200, headerBytes: 19 },
    { what: 'HTTP/1.1 with headers', text: 'HTTP/1.1 200 OK\r\nServer: Icecast 2.4.4\r\nCache-Control: no-cache\r\n\r\n', status: 200, headerBytes: 67 },
    { what: 'ICY 200 OK (SHOUTcast-style)', text: 'ICY 200 OK\r\n\r\n', status: 200, headerBytes: 14 },
    { what: 'a status line without a reason phrase', text: 'HTTP/1.0 200\r\n\r\n', status: 200, headerBytes: 16 },
    { what: '401 with the body after the head', text: 'HTTP/1.0 401 Authentication Required\r\nContent-Type: text/plain\r\n\r\nYou need to authenticate\r\n', status: 401, headerBytes: 66 },
    { what: '403 Mountpoint in use', text: 'HTTP/1.0 403 Forbidden\r\n\r\nMountpoint in use', status: 403, headerBytes: 26 },
  ];
  for (const r of ok) {
    it(`parses ${r.what}`, () => {
      const buf = Buffer.from(r.text, 'latin1');
      const head = parseResponseHead(buf);
      assert.deepEqual(head, { status: r.status, headerBytes: r.headerBytes });
      assert.equal(buf.subarray(0, r.headerBytes).toString('latin1').endsWith('\r\n\r\n'), true, 'headerBytes ends at the blank line');
    });
  }

  const incomplete: { what: string; text: string }[] = [
    { what: 'nothing yet', text: '' },
    { what: 'half a status line', text: 'HTTP/1.0 2' },
    { what: 'a status line without the blank line', text: 'HTTP/1.0 200 OK\r\n' },
    { what: 'a head ending in \\r\\n\\r', text: 'HTTP/1.0 200 OK\r\n\r' },
    { what: 'garbage that has not ended yet (judged once complete)', text: 'SSH-2.0-OpenSSH_9.2' },
  ];
  for (const r of incomplete) {
    it(`returns undefined for ${r.what}`, () => {
      assert.equal(parseResponseHead(Buffer.from(r.text, 'latin1')), undefined);
    });
  }

  const garbage: { what: string; buf: Buffer }[] = [
    { what: 'an SSH banner', buf: Buffer.from('SSH-2.0-OpenSSH_9.2\r\n\r\n', 'latin1') },
    { what: 'HTTP/2.0', buf: Buffer.from('HTTP/2.0 200 OK\r\n\r\n', 'latin1') },
    { what: 'a two-digit status', buf: Buffer.from('HTTP/1.0 20 OK\r\n\r\n', 'latin1') },
    { what: 'lower-case http', buf: Buffer.from('http/1.0 200 OK\r\n\r\n', 'latin1') },
    { what: 'a blank first line', buf: Buffer.from('\r\n\r\n', 'latin1') },
    { what: 'binary bytes', buf: Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff]), Buffer.from('\r\n\r\n')]) },
    { what: 'an over-long head with no end (> 16 KiB)', buf: Buffer.from(`HTTP/1.0 200 OK\r\nX-Pad: ${'a'.repeat(17000)}`, 'latin1') },
  ];
  for (const r of garbage) {
    it(`throws on ${r.what}`, () => {
      assert.throws(() => parseResponseHead(r.buf), Error);
    });
  }

  const splits: { what: string; chunks: string[] }[] = [
    { what: 'after the status line', chunks: ['HTTP/1.0 200 OK\r\n', '\r\n'] },
    { what: 'inside the blank line', chunks: ['HTTP/1.0 200 OK\r\n\r', '\n'] },
    { what: 'inside the status code', chunks: ['HTTP/1.0 2', '00 OK\r\n\r\n'] },
    { what: 'one byte at a time', chunks: [...'HTTP/1.0 200 OK\r\n\r\n'] },
  ];
  for (const r of splits) {
    it(`parses a head split ${r.what} once the last chunk arrives`, () => {
      let acc = Buffer.alloc(0);
      r.chunks.forEach((chunk, i) => {
        acc = Buffer.concat([acc, Buffer.from(chunk, 'latin1')]);
        const got = parseResponseHead(acc);
        if (i < r.chunks.length - 1) assert.equal(got, undefined, `after chunk ${i}`);
        else assert.deepEqual(got, { status: 200, headerBytes: 19 });
      });
    });
  }
});
