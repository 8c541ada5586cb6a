// LateReads: when audio the daemon reads late is shed (pure: the reading's time and lateness in, keep or drop out).
import assert from 'node:assert/strict';
import { FLOOR_RISE, LATE_ABOVE_MS, LATE_FOR_MS, LateReads, MAX_SHED_MS, ON_TIME_BELOW_MS } from '../../server/broadcast/late-reads.js';

function rig(): { late: LateReads; dropped: number[]; episodes: { on: boolean; caughtUp: boolean }[] } {
  const dropped: number[] = [];
  const episodes: { on: boolean; caughtUp: boolean }[] = [];
  const late = new LateReads({ dropped: (ms) => dropped.push(ms), episode: (on, i) => episodes.push({ on, caughtUp: i.caughtUp }) });
  return { late, dropped, episodes };
}

describe('LateReads', function () {
  it(`judges against the broadcast's own floor: ${LATE_ABOVE_MS} ms above it for ${LATE_FOR_MS} ms sheds, ${ON_TIME_BELOW_MS} ms above it ends the episode`, function () {
    const { late, dropped, episodes } = rig();
    assert.equal(late.admit(0, 8000, 20), true, 'the first packet sets the floor (a latency of 8 s is this client\'s)');
    assert.equal(late.admit(100, 8000 + LATE_ABOVE_MS, 20), true, 'at the bound: not late');
    assert.equal(late.admit(200, 9600, 20), true, 'late: a stretch begins');
    assert.equal(late.admit(200 + LATE_FOR_MS - 1, 9600, 20), true, 'not yet for long');
    assert.equal(late.admit(200 + LATE_FOR_MS, 9600, 20), false, 'late for the whole stretch: shed');
    assert.deepEqual(episodes, [{ on: true, caughtUp: false }]);
    assert.equal(late.admit(3300, 8000 + ON_TIME_BELOW_MS + 10, 20), false, 'still above the on-time mark');
    assert.equal(late.admit(3400, 8000 + ON_TIME_BELOW_MS - 10, 20), true, 'on time: kept');
    assert.deepEqual(episodes, [{ on: true, caughtUp: false }, { on: false, caughtUp: true }]);
    assert.deepEqual(dropped, [20, 20]);
    assert.equal(late.shedMs, 40);
    assert.equal(late.admit(3500, 9600, 20), true, 'a new episode needs a new stretch');
  });

  it('one packet on time ends a stretch (the end of a catch-up read, a cluster\'s last packet)', function () {
    const { late, dropped } = rig();
    late.admit(0, 0, 20);
    for (let t = 0; t < 20000; t += 1000) {
      assert.equal(late.admit(t + 1, 2000, 20), true);
      assert.equal(late.admit(t + 2, 0, 20), true);
    }
    assert.deepEqual(dropped, []);
  });

  it(`an episode that does not catch up in ${MAX_SHED_MS} ms keeps its lateness as the new floor`, function () {
    const { late, episodes } = rig();
    late.admit(0, 0, 20);
    for (let t = 1; t <= LATE_FOR_MS + 1; t += 100) late.admit(t, 3000, 20);
    assert.equal(late.shedding, true);
    assert.equal(late.admit(LATE_FOR_MS + MAX_SHED_MS - 100, 3000, 20), false);
    assert.equal(late.admit(LATE_FOR_MS + MAX_SHED_MS + 100, 3000, 20), true, 'kept: late audio rather than none');
    assert.deepEqual(episodes.at(-1), { on: false, caughtUp: false });
    assert.equal(late.admit(LATE_FOR_MS + MAX_SHED_MS + 5000, 3000 + LATE_ABOVE_MS, 20), true, 'judged against the new floor');
  });

  it('the floor rises slowly (an audio clock a little slow against the system\'s is not late after hours)', function () {
    const { late, dropped } = rig();
    late.admit(0, 0, 20);
    // a client whose audio clock is 200 ppm slow: 0.72 s behind after an hour, 2.9 s after four
    for (let t = 1000; t <= 4 * 3600 * 1000; t += 1000) late.admit(t, t * 0.0002, 20);
    assert.ok(FLOOR_RISE > 0.0002);
    assert.deepEqual(dropped, []);
  });

  it('reset(): a new connection has its own floor (and ends an episode)', function () {
    const { late, episodes } = rig();
    late.admit(0, 0, 20);
    for (let t = 1; t <= LATE_FOR_MS + 1; t += 100) late.admit(t, 3000, 20);
    assert.equal(late.shedding, true);
    late.reset();
    assert.deepEqual(episodes.at(-1), { on: false, caughtUp: true });
    assert.equal(late.admit(5000, 9000, 20), true, 'its first packet sets the new floor');
    for (let t = 5100; t < 12000; t += 100) assert.equal(late.admit(t, 9000 - (t - 5000) / 2, 20), true, 'a catch-up, ever less late');
  });
});
