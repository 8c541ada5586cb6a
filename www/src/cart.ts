// The cart wall: pads holding short files (jingles, idents, beds), decoded into memory so they
// fire at once, one-shot or looped, into the cart's mixer channel.
import type { MixerChannel } from './mixer.js';
import { tagsFromFileName } from './tags.js';

export interface PadState {
  index: number;
  label: string;
  loaded: boolean;
  loop: boolean;
  playing: boolean;
  duration: number;
  error: string | undefined;
}

export const PAD_COUNT = 12;

export class CartWall {
  private readonly pads: { label: string; file: File | undefined; buffer: AudioBuffer | undefined; loop: boolean; source: AudioBufferSourceNode | undefined; error: string | undefined }[];

  constructor(private readonly ctx: AudioContext, readonly channel: MixerChannel, private readonly onChange: () => void) {
    this.pads = Array.from({ length: PAD_COUNT }, () => ({ label: '', file: undefined, buffer: undefined, loop: false, source: undefined, error: undefined }));
  }

  state(): PadState[] {
    return this.pads.map((p, index) => ({
      index, label: p.label, loaded: p.buffer !== undefined, loop: p.loop, playing: p.source !== undefined,
      duration: p.buffer?.duration ?? 0, error: p.error,
    }));
  }

  async load(index: number, file: Blob & { name?: string }): Promise<void> {
    const pad = this.pads[index];
    if (pad === undefined) return;
    this.stop(index);
    pad.error = undefined;
    try {
      pad.buffer = await this.ctx.decodeAudioData(await file.arrayBuffer());
      pad.label = tagsFromFileName(file.name ?? `Pad ${index + 1}`).title || `Pad ${index + 1}`;
      pad.file = file instanceof File ? file : new File([file], file.name ?? `pad-${index + 1}`);
    } catch {
      pad.buffer = undefined;
      pad.file = undefined;
      pad.error = `This browser cannot decode "${file.name ?? 'the file'}". Try an MP3, Ogg, FLAC or WAV file.`;
    }
    this.onChange();
  }

  /** A pad's file and loop switch (what the studio's shelf keeps); no files when it is empty. */
  kept(index: number): { files: File[]; loop: boolean } {
    const pad = this.pads[index];
    return { files: pad?.file !== undefined ? [pad.file] : [], loop: pad?.loop ?? false };
  }

  setLoop(index: number, loop: boolean): void {
    const pad = this.pads[index];
    if (pad === undefined) return;
    pad.loop = loop;
    if (pad.source !== undefined) pad.source.loop = loop;
    this.onChange();
  }

  /** Fire a pad; firing a playing pad stops it (a second press is how hosts cut a jingle). */
  trigger(index: number): void {
    const pad = this.pads[index];
    if (pad?.buffer === undefined) return;
    if (pad.source !== undefined) {
      this.stop(index);
      return;
    }
    const src = this.ctx.createBufferSource();
    src.buffer = pad.buffer;
    src.loop = pad.loop;
    this.channel.connectSource(src);
    src.addEventListener('ended', () => {
      if (pad.source === src) pad.source = undefined;
      this.channel.disconnectSource(src);
      this.onChange();
    });
    pad.source = src;
    src.start();
    this.onChange();
  }

  stop(index: number): void {
    const pad = this.pads[index];
    const src = pad?.source;
    if (pad === undefined || src === undefined) return;
    pad.source = undefined;
    try { src.stop(); } catch { /* not started */ }
    this.channel.disconnectSource(src);
    this.onChange();
  }

  stopAll(): void {
    for (let i = 0; i < this.pads.length; i++) this.stop(i);
  }
}
