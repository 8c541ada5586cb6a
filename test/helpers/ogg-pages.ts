// Reads the Ogg page headers of a capture: enough to tell one continuous stream from a chain.
export interface PageInfo { readonly bos: boolean; readonly eos: boolean; readonly serial: number; readonly granule: bigint; readonly sequence: number }

export function oggPages(buf: Buffer): PageInfo[] {
  const pages: PageInfo[] = [];
  let at = buf.indexOf('OggS');
  while (at >= 0 && at + 27 <= buf.length) {
    const segs = buf[at + 26]!;
    if (at + 27 + segs > buf.length) break;
    let body = 0;
    for (let i = 0; i < segs; i++) body += buf[at + 27 + i]!;
    pages.push({
      bos: (buf[at + 5]! & 0x02) !== 0,
      eos: (buf[at + 5]! & 0x04) !== 0,
      granule: buf.readBigInt64LE(at + 6),
      serial: buf.readUInt32LE(at + 14),
      sequence: buf.readUInt32LE(at + 18),
    });
    at = buf.indexOf('OggS', at + 27 + segs + body);
  }
  return pages;
}
