// OutputGather: what an encoder writes within OUTPUT_GATHER_MS goes on in one piece (fake clock).
import assert from 'node:assert/strict';
import { OUTPUT_GATHER_MS, OutputGather } from '../../server/broadcast/output-gather.js';
import { FakeClock } from '../helpers/fake-clock.js';

describe('OutputGather', () => {
  it('a chunk\'s frames, written one by one within a few ms, go on in one piece, OUTPUT_GATHER_MS after the first', async () => {
    const clock = new FakeClock();
    const sent: { at: number; data: Buffer }[] = [];
    const g = new OutputGather(clock, (data) => sent.push({ at: clock.now(), data }));
    const start = clock.now();
    for (let i = 0; i < 12; i++) {
      g.push(Buffer.alloc(384, i));
      await clock.advance(1);
    }
    assert.equal(sent.length, 0);
    await clock.advance(OUTPUT_GATHER_MS);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.at - start, OUTPUT_GATHER_MS);
    assert.deepEqual([...new Set(sent[0]!.data)], [...Array(12).keys()], 'every frame, in order');
    assert.equal(sent[0]!.data.length, 12 * 384);
    // the next chunk's output is a new piece; flush() sends at once, discard() drops
    g.push(Buffer.from('a'));
    g.flush();
    assert.equal(sent.length, 2);
    g.push(Buffer.from('b'));
    g.discard();
    await clock.advance(100);
    assert.equal(sent.length, 2);
    assert.equal(clock.pending, 0);
  });
});
