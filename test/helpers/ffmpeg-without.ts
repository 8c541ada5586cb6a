// The real ffmpeg as a build without one encoder would be: `-encoders` does not list it, and a
// command line asking for it gets the real ffmpeg's own "Unknown encoder" failure (the wrapper
// renames the encoder to one no ffmpeg has). For doctor and for a broadcast whose encoder is missing.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Path of an executable wrapper around the system ffmpeg that lacks `encoder`. */
export function ffmpegWithout(encoder: string): string {
  const real = execFileSync('sh', ['-c', 'command -v ffmpeg'], { encoding: 'utf8' }).trim();
  const wrapper = join(mkdtempSync(join(tmpdir(), 'icewire-ffmpeg-')), `ffmpeg-without-${encoder}`);
  writeFileSync(wrapper, `#!/bin/sh
for a in "$@"; do
  if [ "$a" = "-encoders" ]; then "${real}" "$@" | grep -v ' ${encoder} '; exit 0; fi
done
for a do
  shift
  if [ "$a" = "${encoder}" ]; then a="${encoder}-not-in-this-build"; fi
  set -- "$@" "$a"
done
exec "${real}" "$@"
`, { mode: 0o755 });
  return wrapper;
}
