// EncoderLag: how far a transcoder is behind, and when its input is shed (pure: bytes and a clock's time in, ms out).
import assert from 'node:assert/strict';
import { EncoderFeed, EncoderLag, LAG_RESUME_BELOW_MS, LAG_SHED_ABOVE_MS, lastGranule } from '../../server/broadcast/encoder-lag.js';
import { OutputGather } from '../../server/broadcast/output-gather.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** One Ogg page (no CRC: the lag counter reads only the granule and the lacing). */
function page(granule: number, bodyBytes = 3): Buffer {
  const p = Buffer.alloc(27 + 1 + bodyBytes);
  p.write('OggS', 0, 'latin1');
  if (granule < 0) p.writeInt32LE(-1, 6), p.writeInt32LE(-1, 10);
  else p.writeUInt32LE(granule % 0x100000000, 6), p.writeUInt32LE(Math.floor(granule / 0x100000000), 10);
  p[26] = 1;
  p[27] = bodyBytes;
  return p;
}

/** MP3 output at 128 kbit/s: `ms` of it. */
/** A clock the test moves. */
class Now {
  t = 0;
  now(): number {
    return this.t;
  }
}

const mp3 = (ms: number): { data: Buffer; syncPoint: boolean; header: boolean } => ({ data: Buffer.alloc((ms * 128) / 8), syncPoint: true, header: false });

describe('EncoderLag', function () {
  it('lastGranule: the granule of the last page that ends a packet, across pages', function () {
    assert.equal(lastGranule(Buffer.concat([page(960), page(1920)])), 1920);
    assert.equal(lastGranule(Buffer.concat([page(960), page(-1)])), 960, 'a page where no packet ends has granule -1');
    assert.equal(lastGranule(page(2 ** 33 + 5)), 2 ** 33 + 5, 'above 32 bits');
    assert.equal(lastGranule(Buffer.from('not ogg')), undefined);
    assert.equal(lastGranule(page(960).subarray(0, 20)), undefined, 'a cut page');
  });

  it('counts what the encoder owes and has waited for, sheds above 1 s and feeds it again once under 0.4 s', function () {
    const clock = new Now();
    const lag = new EncoderLag('mp3', 128, clock);
    let g = 0;
    // fed in real time: a page of `ms` comes `ms` after the previous one
    const feed = (ms: number): { ms: number; drop: boolean } => {
      clock.t += ms;
      return lag.input(page((g += ms * 48)));
    };
    assert.deepEqual(feed(0), { ms: 0, drop: false }, 'the first page only sets the start');
    assert.deepEqual(feed(600), { ms: 600, drop: false });
    lag.output(mp3(100));
    assert.equal(lag.owedMs, 500);
    assert.equal(lag.lagMs, 0, 'owed, but handed over just now');
    assert.equal(feed(500).drop, false);
    assert.equal(lag.owedMs, 1000);
    assert.equal(lag.lagMs, 500, 'the oldest audio owed (from 100 ms on) has waited 500 ms');
    assert.deepEqual(feed(300), { ms: 300, drop: false }, 'behind by 800 ms: still fed');
    const shed = feed(300);
    assert.deepEqual(shed, { ms: 300, drop: true }, 'over 1 s behind: dropped, with its length');
    assert.equal(lag.owedMs, 1300, 'dropped audio is not owed');
    lag.output(mp3(600)); // owes 700 ms, the oldest of it waited 600 ms: still over the resume mark
    assert.equal(feed(300).drop, true, `still shedding above ${LAG_RESUME_BELOW_MS} ms`);
    lag.output(mp3(300)); // owes 400 ms: not over the resume mark
    assert.equal(feed(300).drop, false, 'caught up: fed again');
    assert.equal(lag.owedMs, 700);
    assert.ok(LAG_SHED_ABOVE_MS > LAG_RESUME_BELOW_MS, 'hysteresis');
  });

  it('input read late and handed over at once is owed but has not waited: behind only if the encoder does not get through it in time', function () {
    const clock = new Now();
    const lag = new EncoderLag('mp3', 128, clock);
    let g = 0;
    const hand = (ms: number): boolean => lag.input(page((g += ms * 48))).drop;
    hand(0);
    // 3 s that waited in the socket while the daemon stalled, read in one go
    for (let i = 0; i < 10; i++) assert.equal(hand(300), false, `page ${i} of the burst is given`);
    assert.equal(lag.owedMs, 3000);
    assert.equal(lag.lagMs, 0);
    clock.t += 80;
    lag.output(mp3(2950)); // the encoder got through it (all but its look-ahead)
    clock.t += 170;
    assert.equal(lag.owedMs, 50, 'it owes its look-ahead');
    assert.equal(lag.lagMs, 0, 'which is not lag: it waits for what follows');
    assert.equal(hand(250), false, 'the next chunk, in real time');
    // another burst, and this time the encoder writes nothing for 1.1 s: it is behind
    for (let i = 0; i < 10; i++) hand(300);
    clock.t += 1100;
    assert.equal(hand(250), true);
  });

  it('the first page is audio the encoder owes (the feed\'s granules start at 0)', function () {
    const clock = new Now();
    const lag = new EncoderLag('mp3', 128, clock);
    assert.deepEqual(lag.input(page(300 * 48)), { ms: 300, drop: false });
    assert.equal(lag.owedMs, 300);
    lag.output(mp3(300));
    assert.equal(lag.owedMs, 0, 'its output is not counted ahead of its input');
  });

  it('the daemon stalled while the encoder held its look-ahead: the burst read after the stall is not lag', function () {
    const clock = new Now();
    const lag = new EncoderLag('mp3', 128, clock);
    let g = 0;
    // in real time, the encoder keeping up but for its look-ahead
    for (let i = 0; i < 10; i++) {
      clock.t += 300;
      assert.equal(lag.input(page((g += 300 * 48))).drop, false);
      lag.output(mp3(i === 0 ? 250 : 300));
    }
    assert.equal(lag.owedMs, 50);
    clock.t += 2000; // the daemon did not run: nothing was handed over, nothing read
    assert.equal(lag.lagMs, 0, 'waiting for input is not being behind');
    // the 2 s that waited in the socket, handed over in one go
    for (let i = 0; i < 7; i++) assert.equal(lag.input(page((g += 300 * 48))).drop, false, `page ${i} of the burst is given`);
    assert.equal(lag.owedMs, 2150);
    assert.equal(lag.lagMs, 0, 'given just now');
    // and an encoder that then writes nothing for 1.1 s is behind
    clock.t += 1100;
    assert.equal(lag.lagMs, 1100);
    assert.equal(lag.input(page((g += 300 * 48))).drop, true);
  });

  it('EncoderFeed judges on the next turn, after the output that was ready has been read (and passed on by the gather)', async function () {
    const clock = new FakeClock();
    const lag = new EncoderLag('mp3', 128, clock);
    const written: Buffer[] = [];
    let droppedMs = 0;
    const states: boolean[] = [];
    // as in the pipe: what ffmpeg wrote is gathered for 20 ms before it is passed on and counted
    const gather = new OutputGather(clock, (data) => lag.output({ data, syncPoint: true, header: false }));
    const feed = new EncoderFeed(lag, clock, {
      readOutput: () => gather.flush(),
      write: (p) => written.push(p),
      dropped: (ms) => { droppedMs += ms; },
      shedding: (on) => states.push(on),
    });
    let g = 0;
    const chunk = (): Buffer => page((g += 300 * 48));
    // in real time, each chunk's output read a moment after it
    for (let i = 0; i < 6; i++) {
      feed.offer(chunk());
      await clock.advance(20);
      gather.push(mp3(i === 0 ? 250 : 300).data);
      await clock.advance(280);
    }
    assert.equal(written.length, 6);
    // two more chunks go out; then the daemon stalls 1.5 s. The encoder got through them meanwhile,
    // but its output waits in the pipe; after the stall the socket's five chunks are read first,
    // then the output, in the same turn
    feed.offer(chunk());
    await clock.advance(300);
    feed.offer(chunk());
    await clock.advance(1);
    await clock.stall(1500);
    for (let i = 0; i < 5; i++) feed.offer(chunk());
    assert.equal(written.length, 8, 'nothing is judged in the turn it came');
    gather.push(mp3(600).data);
    await clock.advance(0);
    assert.equal(written.length, 13, 'every page given: the encoder had kept up');
    assert.equal(droppedMs, 0);
    assert.deepEqual(states, []);
    // an encoder that really stops: shed, counted, and fed again once it caught up
    for (let i = 0; i < 6; i++) {
      feed.offer(chunk());
      await clock.advance(300);
    }
    assert.deepEqual(states, [true]);
    assert.ok(droppedMs >= 300, `${droppedMs} ms dropped`);
    gather.push(mp3(lag.owedMs).data);
    feed.offer(chunk());
    await clock.advance(0);
    assert.deepEqual(states, [true, false]);
    feed.offer(chunk());
    feed.discard();
    await clock.advance(10);
    assert.equal(clock.pending, 0, 'nothing left to run');
  });

  it('silence written into a gap is not audio the encoder owes', function () {
    const clock = new Now();
    const lag = new EncoderLag('mp3', 128, clock);
    let g = 0;
    lag.input(page(0));
    // a fill starts: 2.5 s of silence at once, then 100 ms at a time; the encoder is slow
    assert.equal(lag.input(page((g += 2500 * 48)), true).drop, false);
    for (let i = 0; i < 10; i++) {
      clock.t += 100;
      assert.equal(lag.input(page((g += 100 * 48)), true).drop, false, `silence tick ${i}`);
    }
    lag.output(mp3(500));
    assert.equal(lag.owedMs, 0, '3 s of silence handed over, 0.5 s of it encoded: no audio owed');
    assert.equal(lag.lagMs, 0);
    // the broadcaster is back: their audio is given, though the encoder still owes 3 s of silence
    clock.t += 300;
    assert.equal(lag.input(page((g += 300 * 48))).drop, false, 'audio after silence the encoder has not finished');
    clock.t += 300;
    assert.equal(lag.input(page((g += 300 * 48))).drop, false);
    assert.equal(lag.owedMs, 600);
    assert.equal(lag.lagMs, 300, 'the audio owed, and how long it waited: the silence ahead of it is not counted as audio');
  });

  it('Ogg output: the encoder\'s position is its last granule at the codec\'s sample rate', function () {
    const lag = new EncoderLag('ogg', 96, new Now());
    lag.input(page(0));
    lag.input(page(48 * 1000));
    const opusHead = Buffer.concat([page(0, 19)]);
    opusHead.write('OpusHead', 28, 'latin1');
    lag.output({ data: opusHead, syncPoint: true, header: true });
    lag.output({ data: page(48 * 700), syncPoint: true, header: false });
    assert.equal(lag.owedMs, 300);
  });

  it('a restarted encoder owes nothing', function () {
    const clock = new Now();
    const lag = new EncoderLag('mp3', 128, clock);
    lag.input(page(0));
    lag.input(page(48 * 3000));
    clock.t += 3000;
    assert.equal(lag.lagMs, 3000);
    lag.reset();
    assert.equal(lag.lagMs, 0);
    assert.equal(lag.input(page(48 * 3300)).drop, false);
  });
});
