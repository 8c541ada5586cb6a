// The log's way out (server/log-output.ts): a reader that stops taking lines can't make the daemon
// hold them without limit; what was dropped is counted and said once the reader is back.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import winston from 'winston';
import { BoundedOutput } from '../../server/log-output.js';

/** A pipe whose reader takes nothing until release(): what is written waits in writableLength. */
function stalledReader(): { stream: Writable; lines: string[]; release: () => void } {
  const lines: string[] = [];
  const held: (() => void)[] = [];
  let stalled = true;
  const stream = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      if (stalled) held.push(cb);
      else cb();
    },
  });
  return { stream, lines, release: () => { stalled = false; for (const cb of held.splice(0)) cb(); } };
}

describe('log output: bounded while its reader is slow', () => {
  it('writes every line while the reader keeps up', () => {
    const r = stalledReader();
    r.release();
    const out = new BoundedOutput({ stream: r.stream, maxQueuedBytes: 4096 });
    const logger = winston.createLogger({ format: winston.format.json(), transports: [new winston.transports.Stream({ stream: out })] });
    for (let i = 0; i < 100; i++) logger.info('line', { i });
    assert.equal(r.lines.length, 100);
    assert.equal(JSON.parse(r.lines[99]!).i, 99);
    assert.equal(out.droppedLines, 0);
  });

  it('drops past the bound, counts, and says how many once the reader took what waited', async () => {
    const r = stalledReader();
    const dropped: number[] = [];
    const out = new BoundedOutput({ stream: r.stream, maxQueuedBytes: 4096, onDropped: (n) => dropped.push(n) });
    const logger = winston.createLogger({ format: winston.format.json(), transports: [new winston.transports.Stream({ stream: out })] });
    for (let i = 0; i < 1000; i++) logger.info('a refusal, say', { i, pad: 'x'.repeat(40) });
    // what waits stays near the bound (a line past it at most), not 1000 lines' worth
    assert.ok(r.stream.writableLength < 4096 + 200, `${r.stream.writableLength} bytes wait`);
    const written = 1000 - out.droppedLines;
    assert.ok(written > 10 && written < 100, `${written} written`);
    assert.deepEqual(dropped, [], 'nothing said while the reader is away');
    r.release();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(r.lines.length, written, 'what waited was all taken');
    assert.deepEqual(dropped, [1000 - written]);
    assert.equal(out.droppedLines, 0);
    // and lines flow again
    logger.info('after');
    assert.match(r.lines.at(-1)!, /"message":"after"/);
  });
});
