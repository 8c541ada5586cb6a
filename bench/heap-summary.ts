// Summary of a V8 .heapsnapshot (node --heapsnapshot-signal): self size by constructor/type.
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapSummary {
  readonly totalMb: number;
  readonly objects: number;
  readonly top: { name: string; count: number; mb: number }[];
}

export function summarizeHeapSnapshot(file: string, top = 20): HeapSummary {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const groups = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  let objects = 0;
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!] ?? '?';
    const size = s.nodes[i + iSize]!;
    total += size;
    objects++;
    const key = type === 'object' || type === 'native' ? s.strings[s.nodes[i + iName]!] ?? '?' : `(${type})`;
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += size;
    groups.set(key, g);
  }
  return {
    totalMb: total / 2 ** 20,
    objects,
    top: [...groups.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top)
      .map(([name, g]) => ({ name: name.slice(0, 80), count: g.count, mb: g.bytes / 2 ** 20 })),
  };
}

export function heapMarkdown(h: HeapSummary, title: string): string {
  return [
    `#### ${title}`,
    '',
    `JS heap ${h.totalMb.toFixed(1)} MB in ${h.objects} objects (self sizes; Buffer contents live outside the JS heap).`,
    '',
    '| constructor / type | count | MB |',
    '| --- | ---: | ---: |',
    ...h.top.map((t) => `| ${t.name.replace(/\|/g, '\\|')} | ${t.count} | ${t.mb.toFixed(2)} |`),
    '',
  ].join('\n');
}
