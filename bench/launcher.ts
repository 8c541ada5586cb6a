// How the daemon is launched when it is installed: its main.js starts with
// `#!/usr/bin/env -S [VAR=value…] node [flags…]` (what `icewire serve` and the systemd unit run).
// The bench starts the daemon with the same flags and environment, so that it measures the daemon
// as deployed, and another build (--daemon) as that build is deployed. Pure but for reading the file.
import { readFileSync } from 'node:fs';

export interface Launcher {
  /** Node's flags, before the script. */
  readonly nodeArgs: string[];
  /** Environment variables the launcher sets. */
  readonly env: Record<string, string>;
}

/** The flags and variables of a `#!/usr/bin/env -S … node …` first line; none for a plain `#!/usr/bin/env node`. */
export function parseShebang(firstLine: string): Launcher {
  const m = /^#!\S*\benv\s+-S\s+(.*)$/.exec(firstLine.trim());
  if (m === null) return { nodeArgs: [], env: {} };
  const words = m[1]!.split(/\s+/).filter((w) => w !== '');
  const env: Record<string, string> = {};
  let i = 0;
  for (; i < words.length && /^[A-Z_][A-Z0-9_]*=/.test(words[i]!); i++) {
    const eq = words[i]!.indexOf('=');
    env[words[i]!.slice(0, eq)] = words[i]!.slice(eq + 1);
  }
  // words[i] is node itself
  return { nodeArgs: words.slice(i + 1), env };
}

export function launcherOf(mainJs: string): Launcher {
  return parseShebang(readFileSync(mainJs, 'utf8').split('\n', 1)[0] ?? '');
}
