// The baseline's ffmpeg command lines (bench/baseline-server.ts), in their own module so the
// report can print them. Input flags from docs/notes/ffmpeg.md: no probing, the container header tells the codecs.
const INPUT = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-f', 'matroska', '-probesize', '32', '-analyzeduration', '0', '-i', 'pipe:0'];

export type BaselineFormat = 'ogg' | 'mp3' | 'webm';

export function baselineArgs(format: BaselineFormat, flush = true): string[] {
  const f = flush ? ['-flush_packets', '1'] : [];
  switch (format) {
    case 'ogg':
      return [...INPUT, '-map', '0:a:0', '-c:a', 'copy', '-f', 'ogg', '-page_duration', '20000', ...f, 'pipe:1'];
    case 'mp3':
      return [...INPUT, '-map', '0:a:0', '-c:a', 'libmp3lame', '-b:a', '128k', '-id3v2_version', '0', '-write_xing', '0', '-f', 'mp3', ...f, 'pipe:1'];
    case 'webm':
      return [...INPUT, '-map', '0:v:0?', '-map', '0:a:0', '-c', 'copy', '-f', 'webm', '-live', '1', '-cluster_time_limit', '100', '-cluster_size_limit', '262144', ...f, 'pipe:1'];
  }
}
