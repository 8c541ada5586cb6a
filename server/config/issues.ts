// Config problems as sentences an operator can act on: zod's issues turned into "key: what is
// wrong" with the full dotted path, and for an unknown key the known key it was probably meant to
// be (a typo, snake_case, the wrong case). No message echoes a value that could be a secret.
import type { z } from 'zod';

export interface ConfigIssue {
  /** Dotted key path, e.g. `mounts.live.renditions.0.format`; '' for the file as a whole. */
  path: string;
  message: string;
  /** 1-based position in the YAML file, when known. */
  line?: number;
  column?: number;
}

type ZodIssue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return 'text';
  return `a ${typeof v}`;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'text', number: 'a number', int: 'a whole number', boolean: 'true or false',
  object: 'a mapping (key: value)', array: 'a list', record: 'a mapping (key: value)',
};

function bound(iss: { minimum?: unknown; maximum?: unknown; inclusive?: boolean; origin?: string }, min: boolean): string {
  const n = Number(min ? iss.minimum : iss.maximum);
  const limit = iss.inclusive === false ? (min ? n + 1 : n - 1) : n;
  switch (iss.origin) {
    case 'string': return min && limit === 1 ? 'must not be empty' : `must be at ${min ? 'least' : 'most'} ${limit} characters`;
    case 'array': return min && limit === 1 ? 'must list at least one entry' : `must list at ${min ? 'least' : 'most'} ${limit} entries`;
    default: return `must be at ${min ? 'least' : 'most'} ${limit}`;
  }
}

/**
 * Per-parse error map: only used where the schema has no message of its own. Input values are
 * echoed only for enums (formats, log levels), which are never secrets.
 */
export function zodMessage(iss: RawIssue): string | undefined {
  const input = iss.input;
  switch (iss.code) {
    case 'invalid_type': {
      if (input === undefined) return 'is required';
      if (iss.expected === 'int' && typeof input === 'number') return `must be a whole number (got ${input})`;
      const want = TYPE_WORDS[iss.expected] ?? iss.expected;
      return `must be ${want} (got ${describeType(input)})`;
    }
    case 'invalid_value': {
      const opts = iss.values.map((v) => String(v)).join(', ');
      const got = typeof input === 'string' && input.length <= 40 ? ` (got "${input}")` : '';
      return iss.values.length === 1 ? `must be ${opts}${got}` : `must be one of: ${opts}${got}`;
    }
    case 'too_small': return bound(iss, true);
    case 'too_big': return bound(iss, false);
    case 'not_multiple_of': return `must be a multiple of ${String(iss.divisor)}`;
    case 'invalid_format': return `is not a valid ${iss.format}`;
    case 'unrecognized_keys': return 'unknown key';
    default: return undefined;
  }
}

// Schema walking for "did you mean": zod 4 keeps the structure on `_zod.def`.
interface DefLike { type: string; shape?: Record<string, unknown>; innerType?: unknown; element?: unknown; valueType?: unknown; in?: unknown }
function defOf(s: unknown): DefLike | undefined {
  return (s as { _zod?: { def?: DefLike } } | undefined)?._zod?.def;
}
function unwrap(s: unknown): unknown {
  for (let i = 0; i < 10; i++) {
    const d = defOf(s);
    if (d === undefined) return undefined;
    if (d.type === 'optional' || d.type === 'default' || d.type === 'prefault' || d.type === 'nullable' || d.type === 'readonly') s = d.innerType;
    else if (d.type === 'pipe') s = d.in;
    else return s;
  }
  return s;
}
function knownKeysAt(schema: unknown, path: readonly PropertyKey[]): string[] {
  let s: unknown = schema;
  for (const seg of path) {
    const d = defOf(unwrap(s));
    if (d === undefined) return [];
    if (d.type === 'object') s = d.shape?.[String(seg)];
    else if (d.type === 'array') s = d.element;
    else if (d.type === 'record') s = d.valueType;
    else return [];
  }
  const d = defOf(unwrap(s));
  return d?.type === 'object' && d.shape ? Object.keys(d.shape) : [];
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions, the commonest typo
// (`prot` for `port`).
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known key an unknown one was probably meant to be (typo, snake_case, wrong case). */
function suggestKey(unknown: string, known: string[]): string | undefined {
  const norm = (k: string): string => k.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = norm(k) === norm(unknown) ? 0 : editDistance(norm(unknown), norm(k));
    if (d < bestD) { best = k; bestD = d; }
  }
  return bestD <= Math.max(1, Math.floor(unknown.length / 4)) ? best : undefined;
}

export function joinPath(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join('.');
}

export function issuesFromZod(zodIssues: readonly ZodIssue[], schema: unknown): { path: PropertyKey[]; message: string }[] {
  const out: { path: PropertyKey[]; message: string }[] = [];
  for (const iss of zodIssues) {
    if (iss.code === 'unrecognized_keys') {
      // one line per key, named by its full path: that is what the operator searches the file for
      const known = knownKeysAt(schema, iss.path);
      for (const key of iss.keys) {
        const hint = suggestKey(key, known);
        const list = known.length > 0 && known.length <= 12 ? `; known keys here: ${known.join(', ')}` : '';
        out.push({ path: [...iss.path, key], message: `unknown key${hint ? ` (did you mean ${hint}?)` : list}` });
      }
    } else if (iss.code === 'invalid_key') {
      // the key's own check carries the useful sentence (e.g. what a station mount name may be)
      const inner = iss.issues[0]?.message;
      out.push({ path: [...iss.path], message: `invalid name: ${inner ?? iss.message}` });
    } else if (iss.code === 'invalid_union') {
      out.push({ path: [...iss.path], message: iss.errors.flat()[0]?.message ?? iss.message });
    } else {
      out.push({ path: [...iss.path], message: iss.message });
    }
  }
  return out;
}
