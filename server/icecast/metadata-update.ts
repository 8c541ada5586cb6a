// "Now playing" for renditions whose format Icecast can retitle itself: MP3 (ICY StreamTitle)
// and Ogg/Vorbis (Icecast starts a new chain). Ogg/Opus and WebM mounts refuse URL updates
// (docs/notes/icecast.md), answering 200 with "Mountpoint will not accept URL updates", so success
// is judged by the message, not the status.
import type { RenditionFormat, TitleCharset } from '../config/schema.js';
import { getText } from './http-text.js';
import { mountTitleCharset, titleForMount } from './title-text.js';

export function acceptsUrlMetadata(format: RenditionFormat): boolean {
  return format === 'mp3' || format === 'ogg-vorbis';
}

/** Pure: did /admin/metadata accept the update? */
export function metadataAccepted(status: number, body: string): boolean {
  return status === 200 && /Metadata update successful/i.test(body) && !/will not accept/i.test(body);
}

/**
 * The /admin/metadata URL for a title (already cleaned by cleanTitleText). The text is made fit
 * for the mount's charset (title-text.ts) and always sent as UTF-8 with `charset=UTF-8`: Icecast
 * converts it to the mount's charset, and for an ISO-8859-1 mount every character is then one
 * Latin-1 has. Without `charset`, Icecast would read the UTF-8 bytes as Latin-1 (mojibake).
 */
export function metadataUrl(o: { url: string; mount: string; title: string; format: RenditionFormat; charset?: TitleCharset | undefined }): URL {
  const u = new URL('/admin/metadata', o.url);
  u.searchParams.set('mount', o.mount);
  u.searchParams.set('mode', 'updinfo');
  u.searchParams.set('song', titleForMount(o.title, mountTitleCharset(o.format, o.charset)));
  u.searchParams.set('charset', 'UTF-8');
  return u;
}

export async function updateMetadata(o: {
  url: string; mount: string; user: string; password: string; title: string; timeoutMs: number;
  format: RenditionFormat; charset?: TitleCharset | undefined;
}): Promise<boolean> {
  const res = await getText(metadataUrl(o), {
    // credentials in the header, never in the URL (Icecast logs URLs)
    headers: { Authorization: `Basic ${Buffer.from(`${o.user}:${o.password}`, 'utf8').toString('base64')}`, 'User-Agent': 'icewire/0.1' },
    signal: AbortSignal.timeout(o.timeoutMs),
  });
  return metadataAccepted(res.status, res.text);
}
