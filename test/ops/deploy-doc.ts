// Commands from docs/deploy.md, for the ops tests to run: the tests execute the guide's own lines
// (with test paths substituted), so the guide cannot drift from what is tested.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../server/paths.js';

const DEPLOY_MD = join(PACKAGE_ROOT, 'docs', 'deploy.md');

/** The ```sh blocks of docs/deploy.md, each as its command lines (backslash continuations joined). */
export function deployBlocks(): string[][] {
  const text = readFileSync(DEPLOY_MD, 'utf8');
  return [...text.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!.replace(/\\\n/g, '').split('\n').filter((l) => l !== ''));
}

/** The one command line in docs/deploy.md that matches `re` (it may appear in several steps). */
export function deployCommand(re: RegExp): string {
  const hits = [...new Set(deployBlocks().flat().filter((l) => !l.startsWith('#') && re.test(l)))];
  if (hits.length !== 1) throw new Error(`docs/deploy.md: expected one command matching ${re}, found ${hits.length}: ${hits.join(' | ')}`);
  return hits[0]!;
}

/** Every command line in docs/deploy.md that matches `re`. */
export function deployCommands(re: RegExp): string[] {
  return deployBlocks().flat().filter((l) => !l.startsWith('#') && re.test(l));
}

/** Replace each [from, to] literally. */
export function substitute(cmd: string, pairs: [string, string][]): string {
  let out = cmd;
  for (const [from, to] of pairs) out = out.split(from).join(to);
  return out;
}
