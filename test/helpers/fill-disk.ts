// Filling a small file system to its last byte, for the disk-full cases (a tmpfs has no
// root-reserved blocks, so even a daemon running as root really gets ENOSPC).
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Fill the file system holding `dir` to the last byte; returns the filler's path. */
export function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) {
      try {
        writeSync(fd, block);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        // the last partial block
        for (let n = 4096; n >= 1; n = Math.floor(n / 2)) {
          try { while (writeSync(fd, block, 0, n) > 0); } catch { /* full at this size */ }
        }
        return path;
      }
    }
  } finally {
    closeSync(fd);
  }
}
