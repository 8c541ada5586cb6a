// Who is live on Icecast, from Icecast's own statistics: the one view every icewire daemon
// sharing an Icecast agrees on (docs/scaling.md). Each daemon names itself in the User-Agent of
// its source connections; Icecast shows a source's User-Agent and address in /admin/stats (admin
// credentials), not in the public status-json.xsl.
import { getText } from './http-text.js';

const PRODUCT = 'icewire/0.1';

/** The User-Agent of a daemon's source connections: `icewire/0.1 (instance=<name>)`. */
export function sourceUserAgent(instanceName: string | undefined): string {
  return instanceName === undefined ? PRODUCT : `${PRODUCT} (instance=${instanceName})`;
}

/** Pure: the daemon named in a source's User-Agent, if an icewire daemon sent it. */
export function instanceFromUserAgent(userAgent: string | undefined): string | undefined {
  return /^icewire\/\S+ \(instance=([A-Za-z0-9][A-Za-z0-9._-]{0,63})\)$/.exec(userAgent ?? '')?.[1];
}

/** Pure: is this User-Agent an icewire daemon's (any version)? */
export function isIcewireUserAgent(userAgent: string | undefined): boolean {
  return /^icewire\//.test(userAgent ?? '');
}

export interface LiveSource {
  readonly mount: string;
  readonly listeners: number;
  /** ISO 8601, from stream_start_iso8601. */
  readonly startedAt: string | undefined;
  readonly title: string | undefined;
  /** Only with admin statistics. */
  readonly userAgent: string | undefined;
  /** The source's address as Icecast sees it (admin statistics only). */
  readonly address: string | undefined;
}

function decodeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '';
    }
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e] ?? '';
  });
}

function isoOrUndefined(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/**
 * Pure: Icecast's /admin/stats XML -> its live sources. A configured mount whose listeners are
 * on its fallback also appears there (listeners, no source): it has no stream_start, and is
 * not live.
 */
export function parseAdminStats(xml: string): LiveSource[] {
  const out: LiveSource[] = [];
  for (const m of xml.matchAll(/<source mount="([^"]*)">([\s\S]*?)<\/source>/g)) {
    const fields = new Map<string, string>();
    for (const f of m[2]!.matchAll(/<([A-Za-z0-9_]+)>([^<]*)<\/\1>/g)) fields.set(f[1]!, decodeXml(f[2]!));
    if (!fields.has('stream_start') && !fields.has('stream_start_iso8601')) continue;
    const listeners = Number(fields.get('listeners'));
    out.push({
      mount: decodeXml(m[1]!),
      listeners: Number.isFinite(listeners) ? listeners : 0,
      startedAt: isoOrUndefined(fields.get('stream_start_iso8601')),
      title: fields.get('title'),
      userAgent: fields.get('user_agent'),
      address: fields.get('source_ip'),
    });
  }
  return out;
}

/** Pure: public status-json.xsl -> live sources (no User-Agent or address there). */
export function parseStatusSources(text: string): LiveSource[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return []; // 2.4.4 emits invalid JSON when no source is connected
  }
  const raw = (doc as { icestats?: { source?: unknown } } | null)?.icestats?.source;
  const list = Array.isArray(raw) ? raw : raw !== undefined && raw !== null ? [raw] : [];
  const out: LiveSource[] = [];
  for (const s of list) {
    if (typeof s !== 'object' || s === null) continue;
    const src = s as Record<string, unknown>;
    if (typeof src.listenurl !== 'string' || (src.stream_start === undefined && src.stream_start_iso8601 === undefined)) continue;
    let mount: string;
    try {
      mount = new URL(src.listenurl).pathname;
    } catch {
      continue;
    }
    out.push({
      mount,
      listeners: typeof src.listeners === 'number' ? src.listeners : 0,
      startedAt: isoOrUndefined(typeof src.stream_start_iso8601 === 'string' ? src.stream_start_iso8601 : undefined),
      title: typeof src.title === 'string' ? src.title : undefined,
      userAgent: undefined,
      address: undefined,
    });
  }
  return out;
}

export interface IcecastSourcesOptions {
  readonly url: string;
  readonly adminUser: string | undefined;
  readonly adminPassword: string | undefined;
  readonly timeoutMs: number;
}

export interface SourcesAnswer {
  readonly sources: readonly LiveSource[];
  /** User-Agents and addresses are known (admin statistics were readable). */
  readonly holders: boolean;
}

/**
 * Ask Icecast now. With admin credentials /admin/stats (who holds what), else status-json.xsl.
 * Rejects when Icecast cannot be reached or refuses the credentials.
 */
export async function fetchIcecastSources(o: IcecastSourcesOptions): Promise<SourcesAnswer> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), o.timeoutMs);
  try {
    if (o.adminUser !== undefined && o.adminPassword !== undefined) {
      const res = await getText(new URL('/admin/stats', o.url), {
        headers: { Authorization: `Basic ${Buffer.from(`${o.adminUser}:${o.adminPassword}`, 'utf8').toString('base64')}` },
        signal: ac.signal,
      });
      if (res.status !== 200) throw new Error(`Icecast answered ${res.status} to /admin/stats (check icecast.adminUser and the admin password)`);
      return { sources: parseAdminStats(res.text), holders: true };
    }
    const res = await getText(new URL('/status-json.xsl', o.url), { signal: ac.signal });
    return { sources: parseStatusSources(res.text), holders: false };
  } finally {
    clearTimeout(t);
  }
}
