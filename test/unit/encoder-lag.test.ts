// EncoderLag: how far a transcoder is behind, and when its input is shed (pure: bytes in, ms out).
import assert from 'node:assert/strict';
import { EncoderLag, LAG_RESUME_BELOW_MS, LAG_SHED_ABOVE_MS, lastGranule } from '../../server/broadcast/encoder-lag.js';

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
const mp3 = (ms: number): { data: Buffer; syncPoint: boolean; header: boolean } => ({ data: Buffer.alloc((ms * 128) / 8), syncPoint: true, header: false });

describe('EncoderLag', function () {
  it('lastGranule: the granule of the last page that ends a packet, across pages', function () {
    assert.equal(lastGranule(Buffer.concat([page(960), page(1920)])), 1920);
    assert.equal(lastGranule(Buffer.concat([page(960), page(-1)])), 960, 'a page where no packet ends has granule -1');
    assert.equal(lastGranule(page(2 ** 33 + 5)), 2 ** 33 + 5, 'above 32 bits');
    assert.equal(lastGranule(Buffer.from('not ogg')), undefined);
    assert.equal(lastGranule(page(960).subarray(0, 20)), undefined, 'a cut page');
  });

  it('counts what the encoder owes, sheds above 1 s and feeds it again once under 0.4 s', function () {
    const lag = new EncoderLag('mp3', 128);
    let g = 0;
    const feed = (ms: number): { ms: number; drop: boolean } => lag.input(page((g += ms * 48)));
    assert.deepEqual(feed(0), { ms: 0, drop: false }, 'the first page only sets the start');
    assert.deepEqual(feed(600), { ms: 600, drop: false });
    lag.output(mp3(100));
    assert.equal(lag.lagMs, 500);
    assert.equal(feed(500).drop, false, 'a page that takes the lag to 1 s is still given');
    assert.equal(lag.lagMs, 1000);
    lag.output(mp3(0));
    assert.deepEqual(feed(300), { ms: 300, drop: false }, 'at exactly 1 s: not yet');
    assert.equal(lag.lagMs, 1300);
    const shed = feed(300);
    assert.deepEqual(shed, { ms: 300, drop: true }, 'over 1 s: dropped, with its length');
    assert.equal(lag.lagMs, 1300, 'dropped audio is not owed');
    lag.output(mp3(600)); // owes 700 ms: still over the resume mark
    assert.equal(feed(300).drop, true, `still shedding above ${LAG_RESUME_BELOW_MS} ms`);
    lag.output(mp3(300)); // owes 400 ms: not over the resume mark
    assert.equal(feed(300).drop, false, 'caught up: fed again');
    assert.equal(lag.lagMs, 700);
    assert.ok(LAG_SHED_ABOVE_MS > LAG_RESUME_BELOW_MS, 'hysteresis');
  });

  it('Ogg output: the encoder\'s position is its last granule at the codec\'s sample rate', function () {
    const lag = new EncoderLag('ogg', 96);
    lag.input(page(0));
    lag.input(page(48 * 1000));
    const opusHead = Buffer.concat([page(0, 19)]);
    opusHead.write('OpusHead', 28, 'latin1');
    lag.output({ data: opusHead, syncPoint: true, header: true });
    lag.output({ data: page(48 * 700), syncPoint: true, header: false });
    assert.equal(lag.lagMs, 300);
  });

  it('a restarted encoder owes nothing', function () {
    const lag = new EncoderLag('mp3', 128);
    lag.input(page(0));
    lag.input(page(48 * 3000));
    assert.equal(lag.lagMs, 3000);
    lag.reset();
    assert.equal(lag.lagMs, 0);
    assert.equal(lag.input(page(48 * 3300)).drop, false);
  });
});
