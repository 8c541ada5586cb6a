// When a broadcaster hears from the daemon: state changes at once (pushed by the broadcast), what
// the page shows when it changes (at most every 2 s), and a keep-alive every 3 s otherwise, so a
// page's 5 s dead-connection check never fires on a quiet, healthy broadcast.
import assert from 'node:assert/strict';
import { StatusCadence, statusKey, STATUS_KEEPALIVE_MS, STATUS_MIN_GAP_MS } from '../../server/broadcast/status-frames.js';

const facts = (listeners: number, state = 'live') => statusKey({ state: state as 'live', title: undefined, shedMs: 0, renditions: [{ state, listeners }] });

describe('status frame cadence', () => {
  it('a quiet broadcast: one frame per keep-alive period at 1 s ticks, never a gap of 5 s', () => {
    const c = new StatusCadence();
    const sent: number[] = [];
    for (let t = 0; t <= 60000; t += 1000) {
      if (c.due(t, facts(0))) { c.sent(t, facts(0)); sent.push(t); }
    }
    assert.equal(sent.length, 1 + Math.floor(60000 / STATUS_KEEPALIVE_MS));
    for (let i = 1; i < sent.length; i++) assert.ok(sent[i]! - sent[i - 1]! < 5000);
  });

  it('a change goes out at the next tick at least 2 s after the last frame', () => {
    const c = new StatusCadence();
    c.sent(0, facts(0));
    assert.equal(c.due(1000, facts(1)), false, 'not within 2 s');
    assert.equal(c.due(STATUS_MIN_GAP_MS, facts(1)), true);
    c.sent(STATUS_MIN_GAP_MS, facts(1));
    assert.equal(c.due(STATUS_MIN_GAP_MS + 1000, facts(1)), false, 'unchanged: wait for the keep-alive');
  });

  it('the fingerprint changes with state, listeners, rendition states, title and whole seconds of shed audio', () => {
    const base = { state: 'live' as const, title: undefined, shedMs: 0, renditions: [{ state: 'live', listeners: 2 }] };
    const k = statusKey(base);
    assert.notEqual(statusKey({ ...base, state: 'reconnecting' }), k);
    assert.notEqual(statusKey({ ...base, title: 'x' }), k);
    assert.notEqual(statusKey({ ...base, shedMs: 1500 }), k);
    assert.equal(statusKey({ ...base, shedMs: 400 }), k, 'less than a second: not worth a frame');
    assert.notEqual(statusKey({ ...base, renditions: [{ state: 'reconnecting', listeners: 2 }] }), k);
    assert.notEqual(statusKey({ ...base, renditions: [{ state: 'live', listeners: 3 }] }), k);
  });
});
