// AAC frames from an MP4 (raw access units plus one AudioSpecificConfig) as an ADTS stream, the
// form ffmpeg reads from a pipe and that continues across a broadcaster's reconnect: every frame
// carries its own header. Pure. ISO 14496-3 §1.6.2.1 (AudioSpecificConfig) and §1.A.2 (ADTS).
import { InvalidMedia } from './demux.js';

export interface AdtsConfig {
  /** ADTS profile: the MPEG-4 audio object type minus one (1 = AAC LC). */
  readonly profile: number;
  readonly frequencyIndex: number;
  readonly channelConfig: number;
}

/** The longest frame ADTS can carry (13-bit length, header included). */
const MAX_FRAME_BYTES = 8191;
const HEADER_BYTES = 7;

/**
 * What an ADTS header needs from an AudioSpecificConfig. HE-AAC (SBR, PS) is sent as its AAC-LC
 * core at the core rate: decoders find the SBR data themselves. Throws InvalidMedia for what ADTS
 * can't carry (object types beyond AAC LTP, a rate not in the table, a channel layout given by a
 * program config element).
 */
export function adtsConfigFromAsc(asc: Uint8Array): AdtsConfig {
  let bit = 0;
  const read = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++, bit++) {
      const byte = asc[bit >> 3];
      if (byte === undefined) throw new InvalidMedia('truncated AudioSpecificConfig');
      v = (v << 1) | ((byte >> (7 - (bit & 7))) & 1);
    }
    return v;
  };
  const objectType = (): number => {
    const t = read(5);
    return t === 31 ? 32 + read(6) : t;
  };
  let type = objectType();
  const frequencyIndex = read(4);
  if (frequencyIndex === 15) throw new InvalidMedia('AAC with an explicit sampling rate can\'t be sent as ADTS');
  const channelConfig = read(4);
  if (type === 5 || type === 29) {
    // SBR / PS: an extension rate, then the core's object type
    if (read(4) === 15) read(24);
    type = objectType();
  }
  if (type < 1 || type > 4) throw new InvalidMedia(`AAC object type ${type} is not supported`);
  if (channelConfig === 0 || channelConfig > 7) throw new InvalidMedia(`AAC channel configuration ${channelConfig} is not supported`);
  return { profile: type - 1, frequencyIndex, channelConfig };
}

/** One raw AAC frame with its ADTS header in front. */
export function adtsFrame(config: AdtsConfig, frame: Uint8Array): Buffer {
  const length = HEADER_BYTES + frame.length;
  if (length > MAX_FRAME_BYTES) throw new InvalidMedia(`AAC frame of ${frame.length} bytes is too long for ADTS`);
  const out = Buffer.allocUnsafe(length);
  out[0] = 0xff;
  // MPEG-4, layer 0, no CRC
  out[1] = 0xf1;
  out[2] = ((config.profile & 0x3) << 6) | (config.frequencyIndex << 2) | (config.channelConfig >> 2);
  out[3] = ((config.channelConfig & 0x3) << 6) | (length >> 11);
  out[4] = (length >> 3) & 0xff;
  // buffer fullness 0x7FF: variable bitrate
  out[5] = ((length & 0x7) << 5) | 0x1f;
  out[6] = 0xfc;
  out.set(frame, HEADER_BYTES);
  return out;
}
