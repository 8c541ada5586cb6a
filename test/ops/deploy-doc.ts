// Commands from docs/deploy.md (and docs/scaling.md), for the ops and cluster tests to run: the
// tests execute the guides' own lines (with test paths substituted), so a guide cannot drift from
// what is tested.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../server/paths.js';

/** The fenced blocks of docs/<doc> in `lang` (```sh, ```xml …), each as its text. */
export function docFencedBlocks(doc: string, lang: string): string[] {
  const text = readFileSync(join(PACKAGE_ROOT, 'docs', doc), 'utf8');
  return [...text.matchAll(new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map((m) => m[1]!);
}

/** The ```sh blocks of docs/<doc>, each as its command lines (backslash continuations joined). */
export function docBlocks(doc: string): string[][] {
  return docFencedBlocks(doc, 'sh').map((b) => b.replace(/\\\n/g, '').split('\n').filter((l) => l !== ''));
}

/** The one command line in docs/<doc> that matches `re` (it may appear in several steps). */
export function docCommand(doc: string, re: RegExp): string {
  const hits = [...new Set(docBlocks(doc).flat().filter((l) => !l.startsWith('#') && re.test(l)))];
  if (hits.length !== 1) throw new Error(`docs/${doc}: expected one command matching ${re}, found ${hits.length}: ${hits.join(' | ')}`);
  return hits[0]!;
}

/** The ```sh blocks of docs/deploy.md, each as its command lines (backslash continuations joined). */
export function deployBlocks(): string[][] {
  return docBlocks('deploy.md');
}

/** The one command line in docs/deploy.md that matches `re` (it may appear in several steps). */
export function deployCommand(re: RegExp): string {
  return docCommand('deploy.md', re);
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
