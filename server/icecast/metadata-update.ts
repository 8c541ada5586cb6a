// "Now playing" for renditions whose format Icecast can retitle itself: MP3 (ICY StreamTitle)
// and Ogg/Vorbis (Icecast starts a new chain). Ogg/Opus and WebM mounts refuse URL updates
// (FACTS.md), answering 200 with "Mountpoint will not accept URL updates", so success is judged
// by the message, not the status.
import type { RenditionFormat } from '../config/schema.js';

export function acceptsUrlMetadata(format: RenditionFormat): boolean {
  return format === 'mp3' || format === 'ogg-vorbis';
}

/** Pure: did /admin/metadata accept the update? */
export function metadataAccepted(status: number, body: string): boolean {
  return status === 200 && /Metadata update successful/i.test(body) && !/will not accept/i.test(body);
}

export async function updateMetadata(o: {
  url: string; mount: string; user: string; password: string; title: string; timeoutMs: number;
}): Promise<boolean> {
  const u = new URL('/admin/metadata', o.url);
  u.searchParams.set('mount', o.mount);
  u.searchParams.set('mode', 'updinfo');
  u.searchParams.set('song', o.title);
  u.searchParams.set('charset', 'UTF-8');
  const res = await fetch(u, {
    // credentials in the header, never in the URL (Icecast logs URLs)
    headers: { Authorization: `Basic ${Buffer.from(`${o.user}:${o.password}`, 'utf8').toString('base64')}`, 'User-Agent': 'icewire/0.1' },
    signal: AbortSignal.timeout(o.timeoutMs),
  });
  return metadataAccepted(res.status, await res.text());
}
