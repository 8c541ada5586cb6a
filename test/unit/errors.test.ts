// Keeps docs/errors.md and the catalogue in server/errors.ts in step: a code added, removed or
// renumbered on one side only fails here. Also: the end reason each catalogue entry names.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { endReasonFor, ERRORS, type ErrorCode } from '../../server/errors.js';
import { END_REASONS, type EndReason } from '../../www/src/wire-contract.js';

const DOC = fileURLToPath(new URL('../../../docs/errors.md', import.meta.url));

interface DocRow { close: number; http: number; message: string; fix: string }

function docRows(): Map<string, DocRow> {
  const rows = new Map<string, DocRow>();
  for (const line of readFileSync(DOC, 'utf8').split('\n')) {
    if (!line.startsWith('|')) continue;
    // cells split on unescaped pipes (a fix text may contain `\|`)
    const cells = line.trim().slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim());
    const code = /^`(IW_ERR_[A-Z0-9_]+)`$/.exec(cells[0] ?? '')?.[1];
    if (code === undefined) continue;
    assert.equal(cells.length, 5, `${code}: the row needs 5 cells (code, close, HTTP, meaning, fix)`);
    assert.ok(!rows.has(code), `${code} is listed twice in docs/errors.md`);
    rows.set(code, { close: Number(cells[1]), http: Number(cells[2]), message: cells[3]!, fix: cells[4]! });
  }
  return rows;
}

describe('docs/errors.md', () => {
  const rows = docRows();

  it('lists every code in ERRORS', () => {
    const missing = Object.keys(ERRORS).filter((code) => !rows.has(code));
    assert.deepEqual(missing, [], 'add these codes to the table in docs/errors.md');
  });

  it('lists no code that ERRORS does not have', () => {
    const extra = [...rows.keys()].filter((code) => !(code in ERRORS));
    assert.deepEqual(extra, [], 'remove these codes from docs/errors.md (or add them to server/errors.ts)');
  });

  it('mentions no other IW_ERR_ code anywhere in the text', () => {
    const mentioned = new Set(readFileSync(DOC, 'utf8').match(/IW_ERR_[A-Z0-9_]+/g) ?? []);
    assert.deepEqual([...mentioned].filter((code) => !(code in ERRORS)), []);
  });

  it('has the same close code and HTTP status as the catalogue, and a meaning and fix for each', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      const row = rows.get(code);
      if (row === undefined) continue; // reported by the first test
      assert.equal(row.close, spec.close, `${code}: close code`);
      assert.equal(row.http, spec.http, `${code}: HTTP status`);
      assert.ok(row.message.length > 0, `${code}: meaning`);
      assert.ok(row.fix.length > 0, `${code}: how to fix`);
    }
  });
});

describe('the end reason each catalogue entry names', () => {
  const EXPLICIT: Partial<Record<ErrorCode, EndReason>> = {
    IW_ERR_ICECAST_AUTH: 'icecast-auth',
    IW_ERR_ICECAST_MOUNT_IN_USE: 'icecast-busy',
    IW_ERR_MOUNT_BUSY: 'icecast-busy',
    IW_ERR_ICECAST_UNREACHABLE: 'icecast-unreachable',
    IW_ERR_ICECAST_LIMIT: 'icecast-refused',
    IW_ERR_ICECAST_REFUSED: 'icecast-refused',
    IW_ERR_ICECAST_LOST: 'icecast-lost',
    IW_ERR_PIPELINE_FAILED: 'ffmpeg-failed',
    IW_ERR_INGEST_INVALID_MEDIA: 'invalid-media',
    IW_ERR_INGEST_UNSUPPORTED_MEDIA: 'invalid-media',
    IW_ERR_INGEST_TOO_SLOW: 'ingest-too-slow',
    IW_ERR_INGEST_TOO_FAST: 'ingest-too-fast',
    IW_ERR_SHUTTING_DOWN: 'shutdown',
    IW_ERR_PROTO_BAD_MESSAGE: 'protocol-error',
    IW_ERR_PROTO_EXPECTED_HELLO: 'protocol-error',
    IW_ERR_PROTO_FRAME_TOO_LARGE: 'protocol-error',
    IW_ERR_PROTO_HELLO_TIMEOUT: 'protocol-error',
    IW_ERR_INTERNAL: 'internal',
  };

  for (const code of Object.keys(ERRORS) as ErrorCode[]) {
    const want = EXPLICIT[code];
    it(`${code} -> ${want ?? 'a member of END_REASONS'}`, () => {
      const got = endReasonFor(code);
      assert.ok((END_REASONS as readonly string[]).includes(got), `${got} is not in END_REASONS`);
      if (want !== undefined) assert.equal(got, want);
    });
  }

  it('every end reason except stopped and connection-lost (socket events) comes from some code', () => {
    const produced = new Set((Object.keys(ERRORS) as ErrorCode[]).map(endReasonFor));
    const missing = END_REASONS.filter((r) => r !== 'stopped' && r !== 'connection-lost' && !produced.has(r));
    assert.deepEqual(missing, []);
  });
});
