// A tiny EBML writer for hand-made WebM streams in tests: elements of known and unknown size,
// unsigned integers and strings, the EBML header, and (Simple)Block bodies with any lacing.

export function idBytes(id: number): Buffer {
  const hex = id.toString(16);
  return Buffer.from(hex.length % 2 === 1 ? `0${hex}` : hex, 'hex');
}
/** An EBML size (VINT) of the shortest length that holds `n`. */
export function sizeBytes(n: number): Buffer {
  for (let len = 1; len <= 8; len++) {
    if (n < 2 ** (7 * len) - 1) {
      const b = Buffer.alloc(len);
      let v = n;
      for (let i = len - 1; i >= 0; i--) {
        b[i] = v % 256;
        v = Math.floor(v / 256);
      }
      b[0]! |= 0x80 >> (len - 1);
      return b;
    }
  }
  throw new Error('too big');
}
export const UNKNOWN_SIZE = Buffer.from('01ffffffffffffff', 'hex');
export function el(id: number, ...body: Buffer[]): Buffer {
  const b = Buffer.concat(body);
  return Buffer.concat([idBytes(id), sizeBytes(b.length), b]);
}
export function elUnknown(id: number, ...body: Buffer[]): Buffer {
  return Buffer.concat([idBytes(id), UNKNOWN_SIZE, ...body]);
}
/** An element holding an unsigned integer. */
export function uint(id: number, v: number): Buffer {
  const bytes: number[] = [];
  do {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  return el(id, Buffer.from(bytes));
}
export const str = (id: number, s: string): Buffer => el(id, Buffer.from(s, 'latin1'));

export function ebmlHeader(docType = 'webm'): Buffer {
  return el(0x1a45dfa3, uint(0x4286, 1), uint(0x42f7, 1), uint(0x42f2, 4), uint(0x42f3, 8), str(0x4282, docType), uint(0x4287, 4), uint(0x4285, 2));
}

/** A block body: track, relative time, flags, frames laced as asked. */
export function block(track: number, rel: number, flags: number, frameList: Buffer[], lacing: 'none' | 'xiph' | 'ebml' | 'fixed'): Buffer {
  const head = Buffer.alloc(3);
  head.writeInt16BE(rel);
  const laceBits = { none: 0, xiph: 1, fixed: 2, ebml: 3 }[lacing];
  head[2] = flags | (laceBits << 1);
  const parts: Buffer[] = [sizeBytes(track), head];
  if (lacing !== 'none') parts.push(Buffer.from([frameList.length - 1]));
  if (lacing === 'xiph') {
    for (const f of frameList.slice(0, -1)) {
      let n = f.length;
      const bytes: number[] = [];
      while (n >= 255) { bytes.push(255); n -= 255; }
      bytes.push(n);
      parts.push(Buffer.from(bytes));
    }
  } else if (lacing === 'ebml') {
    parts.push(sizeBytes(frameList[0]!.length));
    for (let i = 1; i < frameList.length - 1; i++) {
      // Signed difference, in a 2-byte VINT: value + bias (2^13 - 1).
      const v = frameList[i]!.length - frameList[i - 1]!.length + (2 ** 13 - 1);
      parts.push(Buffer.from([0x40 | (v >> 8), v & 0xff]));
    }
  }
  parts.push(...frameList);
  return Buffer.concat(parts);
}
