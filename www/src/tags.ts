// Title and artist of an audio file, from its tags (ID3, Vorbis comments in Ogg/FLAC, MP4 atoms)
// via music-metadata, loaded only when a file is first added (it is a separate chunk of the
// bundle). Falls back to "Artist - Title" in the file name.

export interface TrackTags {
  title: string;
  artist: string;
  /** Seconds, when the container says. */
  duration: number | undefined;
}

/** "Artist - Title.mp3" -> { artist, title }; otherwise the name without its extension as title. */
export function tagsFromFileName(name: string): { title: string; artist: string } {
  const base = name.replace(/\.[A-Za-z0-9]{1,5}$/, '').replace(/_/g, ' ').trim();
  const m = /^(.+?)\s+[-–—]\s+(.+)$/.exec(base);
  return m !== null ? { artist: m[1]!.trim(), title: m[2]!.trim() } : { artist: '', title: base };
}

export async function readTags(file: Blob & { name?: string }): Promise<TrackTags> {
  const fallback = tagsFromFileName(file.name ?? '');
  try {
    const { parseBlob } = await import('music-metadata');
    const meta = await parseBlob(file, { duration: false, skipCovers: true });
    return {
      title: meta.common.title?.trim() || fallback.title,
      artist: meta.common.artist?.trim() || meta.common.albumartist?.trim() || (meta.common.title ? '' : fallback.artist),
      duration: typeof meta.format.duration === 'number' ? meta.format.duration : undefined,
    };
  } catch {
    // Unreadable tags are no reason to refuse a file the browser can play.
    return { ...fallback, duration: undefined };
  }
}
