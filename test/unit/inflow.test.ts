// What a broadcaster's socket holds between reading a frame and the broadcast taking it: small and
// daemon-wide bounded before the hello is accepted, dropped on refusal; a read-ahead of a full
// broadcast that pauses the socket at its bound and hands everything over at the end.
import assert from 'node:assert/strict';
import { HoldPool, Inflow, PRE_AUTH_BYTES, READ_AHEAD_BYTES, type Pausable } from '../../server/ingest/inflow.js';

class FakeSocket implements Pausable {
  isPaused = false;
  pauses = 0;
  pause(): void { this.isPaused = true; this.pauses++; }
  resume(): void { this.isPaused = false; }
}

const kb = (n: number, fill = 0): Buffer => Buffer.alloc(n * 1024, fill);

describe('Inflow', () => {
  it('before the hello is accepted: holds up to PRE_AUTH_BYTES, then pauses the socket', () => {
    const s = new FakeSocket();
    const pool = new HoldPool();
    const f = new Inflow(s, pool);
    for (let i = 0; i < PRE_AUTH_BYTES / 1024 - 1; i++) f.push(kb(1));
    assert.equal(s.isPaused, false);
    f.push(kb(1));
    assert.equal(s.isPaused, true);
    assert.equal(pool.used, PRE_AUTH_BYTES);
  });

  it('all unauthenticated connections together hold at most the pool, then each is paused', () => {
    const pool = new HoldPool(100 * 1024);
    const sockets = Array.from({ length: 4 }, () => new FakeSocket());
    const flows = sockets.map((s) => new Inflow(s, pool));
    flows.forEach((f) => f.push(kb(30)));
    assert.deepEqual(sockets.map((s) => s.isPaused), [false, false, false, true]);
    assert.equal(pool.used, 120 * 1024);
    flows[3]!.discard();
    assert.equal(pool.used, 90 * 1024, 'a refusal gives its share back');
  });

  it('accepted: what was held goes out in order, its pool share is returned, the socket reads again', () => {
    const s = new FakeSocket();
    const pool = new HoldPool();
    const f = new Inflow(s, pool);
    f.push(kb(40, 1));
    f.push(kb(40, 2));
    assert.equal(s.isPaused, true);
    const got: number[] = [];
    f.accepted((c) => { got.push(c[0]!); return true; });
    assert.deepEqual(got, [1, 2]);
    assert.equal(pool.used, 0);
    assert.equal(s.isPaused, false);
    f.push(kb(1, 3));
    assert.deepEqual(got, [1, 2, 3], 'then straight through');
  });

  it('a full broadcast: reads ahead up to READ_AHEAD_BYTES, then pauses; drain hands over and resumes', () => {
    const s = new FakeSocket();
    const f = new Inflow(s, new HoldPool());
    let full = false;
    const got: number[] = [];
    f.accepted((c) => { got.push(c.length); return !full; });
    full = true;
    f.push(kb(10));        // taken, but the broadcast is full now
    for (let i = 0; i < READ_AHEAD_BYTES / (64 * 1024) - 1; i++) f.push(kb(64));
    assert.equal(s.isPaused, false, 'still reading ahead');
    assert.equal(got.length, 1, 'held, not pushed into a full broadcast');
    f.push(kb(64));
    assert.equal(s.isPaused, true);
    full = false;
    f.drain();
    assert.equal(f.bytes, 0);
    assert.equal(got.length, 1 + READ_AHEAD_BYTES / (64 * 1024));
    assert.equal(s.isPaused, false);
  });

  it('flush hands over everything held even when the broadcast is full (the connection is ending)', () => {
    const s = new FakeSocket();
    const f = new Inflow(s, new HoldPool());
    const got: number[] = [];
    f.accepted((c) => { got.push(c[0]!); return false; });
    f.push(kb(1, 1));
    f.push(kb(1, 2));
    f.push(kb(1, 3));
    assert.deepEqual(got, [1]);
    f.flush();
    assert.deepEqual(got, [1, 2, 3]);
    assert.equal(f.bytes, 0);
  });
});
