// doctor's ffmpeg checks: ffmpeg runs, and has every encoder, muxer and demuxer the configured
// renditions need (read from the rendition kinds table, for every input the daemon accepts).
import { statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import type { Config } from '../config/schema.js';
import { resolveFfmpegPath } from '../pipeline/ffmpeg-process.js';
import { ACCEPTED_INPUTS, ffmpegComponents, kindFor, type FfmpegComponentKind, type RenditionFormat } from '../pipeline/rendition-kinds.js';
import { errCode, type DoctorContext } from './context.js';

export type { FfmpegComponentKind };

export interface FfmpegNeed {
  readonly kind: FfmpegComponentKind;
  readonly name: string;
  /** The renditions that need it, e.g. `/live.mp3 (mp3)`. */
  readonly usedBy: readonly string[];
}

interface NeedSource { label: string; format: RenditionFormat; bitrate: number | undefined }

/** What one rendition's ffmpeg needs, for any input the daemon accepts: none for kinds the daemon writes itself. */
function needsOf(format: RenditionFormat, bitrate: number | undefined): { kind: FfmpegComponentKind; name: string }[] {
  return ACCEPTED_INPUTS.flatMap((input) => ffmpegComponents(kindFor({ format, bitrate }, input), input));
}

/**
 * Encoders, muxers and demuxers ffmpeg must have for the configured renditions. In passthrough
 * mode a broadcaster picks the format by the mount's extension, so every one a name can select.
 */
export function ffmpegNeeds(config: Pick<Config, 'auth' | 'mounts'>): FfmpegNeed[] {
  const sources: NeedSource[] = config.auth.mode === 'passthrough'
    ? [
      { label: 'passthrough .mp3 mounts', format: 'mp3', bitrate: undefined },
      { label: 'passthrough .webm mounts', format: 'webm', bitrate: undefined },
    ]
    : Object.values(config.mounts).flatMap((m) => m.renditions.map((r) => ({ label: `${r.mount} (${r.format}${r.bitrate !== undefined ? ` ${r.bitrate}k` : ''})`, format: r.format, bitrate: r.bitrate })));
  const byKey = new Map<string, { kind: FfmpegComponentKind; name: string; usedBy: string[] }>();
  for (const s of sources) {
    for (const n of needsOf(s.format, s.bitrate)) {
      const key = `${n.kind}:${n.name}`;
      const entry = byKey.get(key) ?? { ...n, usedBy: [] };
      if (!entry.usedBy.includes(s.label)) entry.usedBy.push(s.label);
      byKey.set(key, entry);
    }
  }
  const order: FfmpegComponentKind[] = ['encoder', 'muxer', 'demuxer'];
  return [...byKey.values()].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || a.name.localeCompare(b.name));
}

/**
 * Names listed by `ffmpeg -encoders`, `-muxers` or `-demuxers`: the rows after the `---` rule,
 * each `FLAGS name[,alias…] description`.
 */
export function parseFfmpegList(text: string): Set<string> {
  const names = new Set<string>();
  let inTable = false;
  for (const line of text.split(/\r?\n/)) {
    if (!inTable) {
      if (/^\s*-+\s*$/.test(line)) inTable = true;
      continue;
    }
    const m = /^\s*(\S+)\s+(\S+)/.exec(line);
    if (m === null) continue;
    for (const n of m[2]!.split(',')) names.add(n);
  }
  return names;
}

/** `ffmpeg` -> its path on PATH (for display); a path stays as it is. */
function whichFfmpeg(cmd: string): string | undefined {
  if (cmd.includes('/')) return cmd;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const p = join(dir, cmd);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not in this PATH entry
    }
  }
  return undefined;
}

// ffmpeg: found, its version, then what the renditions need
export async function checkFfmpeg(ctx: DoctorContext): Promise<void> {
  const configured = ctx.config.ffmpegPath;
  const cmd = resolveFfmpegPath(configured);
  const needs = ffmpegNeeds(ctx.config);
  const where = configured !== undefined ? `ffmpegPath ${configured}` : cmd === 'ffmpeg' ? 'ffmpeg on PATH' : `ffmpeg-static ${cmd}`;
  let versionOut: string;
  try {
    versionOut = await ctx.deps.runFfmpeg(cmd, ['-version']);
  } catch (err) {
    const code = errCode(err);
    const why = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'not executable' : `does not run (${String(code ?? (err as Error).message)})`;
    const fix = configured !== undefined
      ? `install ffmpeg (apt-get install ffmpeg) and set ffmpegPath: /usr/bin/ffmpeg ${ctx.inFile}, or remove ffmpegPath to use ffmpeg on PATH`
      : 'install ffmpeg: apt-get install ffmpeg';
    if (needs.length === 0) {
      // Ogg/Opus copies are written by the daemon itself; only transcodes and WebM run ffmpeg.
      ctx.add('warn', `${where}: ${why} (the configured renditions do not use it)`, fix);
    } else {
      ctx.add('FAIL', `${where}: ${why}`, fix);
    }
    return;
  }
  const version = /ffmpeg version (\S+)/.exec(versionOut)?.[1] ?? 'unknown version';
  ctx.add('ok', `ffmpeg ${version} (${whichFfmpeg(cmd) ?? cmd})`);
  if (needs.length === 0) {
    ctx.add('ok', 'ffmpeg components: none needed (Ogg/Opus copies are written by icewire itself)');
    return;
  }

  const lists = new Map<FfmpegComponentKind, Set<string> | Error>();
  const kinds = (['encoder', 'muxer', 'demuxer'] as const).filter((k) => needs.some((n) => n.kind === k));
  await Promise.all(kinds.map(async (kind) => {
    try {
      lists.set(kind, parseFfmpegList(await ctx.deps.runFfmpeg(cmd, ['-hide_banner', `-${kind}s`])));
    } catch (err) {
      lists.set(kind, err instanceof Error ? err : new Error(String(err)));
    }
  }));
  for (const [kind, list] of lists) {
    if (list instanceof Error) {
      ctx.add('FAIL', `\`ffmpeg -${kind}s\` failed (${list.message.split('\n')[0]}), so the ${kind}s the renditions need are unknown`,
        `check that ${whichFfmpeg(cmd) ?? cmd} is a working ffmpeg (apt-get install ffmpeg)`);
    }
  }
  const have: string[] = [];
  for (const n of needs) {
    const list = lists.get(n.kind);
    if (list instanceof Error) continue; // said above
    if (list !== undefined && list.has(n.name)) {
      have.push(`${n.kind} ${n.name}`);
      continue;
    }
    const fix = configured !== undefined
      ? `point ffmpegPath ${ctx.inFile} at an ffmpeg that has it (Debian's: apt-get install ffmpeg; ffmpegPath: /usr/bin/ffmpeg), or remove those renditions`
      : `install an ffmpeg that has it (Debian's: apt-get install ffmpeg), or remove those renditions ${ctx.inFile}`;
    ctx.add('FAIL', `ffmpeg has no ${n.name} ${n.kind}, needed by ${n.usedBy.join(', ')}`, fix);
  }
  if (have.length > 0) ctx.add('ok', `ffmpeg components the renditions need: ${have.join(', ')}`);
}
