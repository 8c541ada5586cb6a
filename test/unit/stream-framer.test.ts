// StreamFramer: an encoder's output split into units a (re)connected Icecast source may start at.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { StreamFramer, type Unit } from '../../server/pipeline/stream-framer.js';

function ffmpegOut(args: string[]): Buffer {
  return execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=2', ...args, 'pipe:1'], { maxBuffer: 64 * 1024 * 1024 });
}

/** Feed in chunks of the given sizes (cycling). */
function frame(f: StreamFramer, data: Buffer, sizes: number[]): Unit[] {
  const out: Unit[] = [];
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(...f.push(data.subarray(at, at + n)));
    at += n;
  }
  return [...out, ...f.flush()];
}

describe('StreamFramer', () => {
  const vorbis = ffmpegOut(['-c:a', 'libvorbis', '-f', 'ogg']);
  const webm = ffmpegOut(['-c:a', 'libopus', '-f', 'webm', '-cluster_time_limit', '100']);

  for (const sizes of [[vorbis.length], [1], [7, 4096, 3], [65536]]) {
    it(`Ogg: whole pages, the codec header pages as the header, bytes unchanged (chunks ${sizes.join('/')})`, () => {
      const f = new StreamFramer('ogg');
      const units = frame(f, vorbis, sizes);
      assert.ok(Buffer.concat(units.map((u) => u.data)).equals(vorbis), 'nothing lost or reordered');
      for (const u of units) assert.equal(u.data.subarray(0, 4).toString('latin1'), 'OggS', 'every unit is a page');
      const headers = units.filter((u) => u.header);
      assert.ok(headers.length >= 2 && units.slice(0, headers.length).every((u) => u.header), 'Vorbis header pages come first');
      assert.ok(f.header.equals(Buffer.concat(headers.map((u) => u.data))));
      assert.ok(units.slice(headers.length).every((u) => u.syncPoint && !u.header));
    });
  }

  it('Ogg: a new chain (BOS) starts a new header', () => {
    const f = new StreamFramer('ogg');
    frame(f, vorbis, [1000]);
    const first = f.header;
    const again = frame(f, vorbis, [1000]);
    assert.ok(again[0]!.header);
    assert.ok(f.header.equals(first), 'the second chain\'s header replaced the first');
  });

  it('Ogg: junk before a page is passed on and framing resynchronises', () => {
    const f = new StreamFramer('ogg');
    const units = frame(f, Buffer.concat([Buffer.from('junkjunk'), vorbis]), [300]);
    assert.ok(Buffer.concat(units.map((u) => u.data)).equals(Buffer.concat([Buffer.from('junkjunk'), vorbis])));
    assert.ok(units.some((u) => u.header));
  });

  for (const sizes of [[webm.length], [1], [5, 333]]) {
    it(`WebM: the bytes before the first Cluster are the header; units at Clusters are sync points (chunks ${sizes.join('/')})`, () => {
      const f = new StreamFramer('webm');
      const units = frame(f, webm, sizes);
      assert.ok(Buffer.concat(units.map((u) => u.data)).equals(webm));
      const first = webm.indexOf(Buffer.from([0x1f, 0x43, 0xb6, 0x75]));
      assert.ok(f.header.equals(webm.subarray(0, first)));
      const syncs = units.filter((u) => u.syncPoint);
      assert.ok(syncs.length >= 10, `${syncs.length} clusters for 2 s at 100 ms`);
      for (const u of syncs) assert.ok(u.data.subarray(0, 4).equals(Buffer.from([0x1f, 0x43, 0xb6, 0x75])), 'a sync unit starts with a Cluster ID');
    });
  }

  it('WebM: after the header, units are the encoder\'s own bytes (views, no copy), one unit per chunk between Clusters', () => {
    // ffmpeg's output read in 4 kB pieces, each its own allocation, as a pipe delivers them
    const chunks: Buffer[] = [];
    for (let at = 0; at < webm.length; at += 4096) chunks.push(Buffer.from(webm.subarray(at, at + 4096)));
    const f = new StreamFramer('webm');
    const units = chunks.flatMap((c) => f.push(c));
    units.push(...f.flush());
    assert.ok(Buffer.concat(units.map((u) => u.data)).equals(webm));
    const own = new Set(chunks.map((c) => c.buffer));
    const copied = units.filter((u) => !u.header && !own.has(u.data.buffer as ArrayBuffer));
    // only a chunk that ends inside what could be a Cluster ID carries a few bytes over (rare)
    assert.ok(copied.length <= 2, `${copied.length} of ${units.length} units were copies`);
    const clusters = units.filter((u) => u.syncPoint).length;
    assert.ok(units.length <= chunks.length + clusters + 1, `${units.length} units for ${chunks.length} chunks and ${clusters} Clusters`);
  });

  it('MP3: every chunk passes through as a sync point, no header', () => {
    const f = new StreamFramer('mp3');
    const units = f.push(Buffer.from([0xff, 0xfb, 1, 2]));
    assert.deepEqual(units.map((u) => [u.syncPoint, u.header]), [[true, false]]);
    assert.equal(f.header.length, 0);
  });

  it('stops framing (and buffering) when no unit boundary comes within the bound', () => {
    const f = new StreamFramer('ogg', 4096);
    // a page header announcing 255 segments of 255 bytes: a 65 kB page that never completes
    const head = Buffer.concat([Buffer.from('OggS'), Buffer.alloc(22), Buffer.from([255]), Buffer.alloc(255, 255), Buffer.alloc(100)]);
    const units = f.push(head);
    assert.equal(units.length, 0, 'an incomplete page waits');
    const more = f.push(Buffer.alloc(8000));
    assert.equal(Buffer.concat(more.map((u) => u.data)).length, head.length + 8000, 'everything flushed, nothing kept');
    assert.equal(f.push(Buffer.from('x')).length, 1, 'bytes pass straight through after that');
  });
});
