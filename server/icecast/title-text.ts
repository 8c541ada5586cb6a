// "Now playing" text, made safe and right once, at the boundary: every title and artist from
// every source (the webcast `metadata` frame, a source client's `/admin/metadata?song=`, …) goes
// through cleanTitleText() before the daemon keeps it, and through titleForMount() on its way to
// an Icecast mount. Pure: strings in, strings out; imports nothing of ours.
//
// What Icecast 2.4.4 does with a title (measured; docs/notes/icecast.md, "Titles"):
// - An MP3 mount's ICY block is `StreamTitle='<text>';` with the text copied in verbatim: CR/LF
//   and `';StreamUrl='…` in a title become extra ICY fields for every MP3 listener, and a NUL cuts
//   the block short. So control characters go, and the sequences that end or start an ICY field
//   are broken up (icySafe).
// - An MP3 mount converts titles into its charset, ISO-8859-1 unless icecast.xml gives the mount
//   `<charset>UTF-8</charset>`. Characters Latin-1 lacks come out as `&#8212;`-style entities, so
//   for such mounts the daemon transliterates first (— → -, “ ” → ", Привет → Privet).
// - Ogg (Vorbis) titles are UTF-8 whatever the mount's charset.
import { createRequire } from 'node:module';
import type { RenditionFormat, TitleCharset } from '../config/schema.js';

// The transliteration tables (~0.8 MB of heap) and ICU's grapheme data are loaded with the first
// title that needs them, not at start: an idle daemon does not keep them (docs/performance.md, Idle).
let transliterateFn: ((s: string) => string) | undefined;
function transliterate(s: string): string {
  transliterateFn ??= (createRequire(import.meta.url)('@sindresorhus/transliterate') as { default: (s: string) => string }).default;
  return transliterateFn(s);
}
/** Whether the transliteration tables have been loaded (test/unit/idle-daemon.test.ts: not at idle). */
export const transliterationLoaded = (): boolean => transliterateFn !== undefined;
let graphemes: Intl.Segmenter | undefined;
const segmenter = { segment: (s: string): Intl.Segments => (graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' })).segment(s) };

/** Longest title or artist kept, in user-perceived characters (grapheme clusters). */
export const MAX_TITLE_CHARS = 200;
/** …and in UTF-8 bytes: title + artist stay far inside an ICY block (at most 4080 bytes). */
export const MAX_TITLE_BYTES = 1000;

/**
 * The charset a mount keeps titles in: an MP3 mount's configured `charset` (its <charset> in
 * icecast.xml), by default ISO-8859-1 as Icecast's; Ogg and WebM titles are always UTF-8.
 */
export function mountTitleCharset(format: RenditionFormat, charset: TitleCharset | undefined): TitleCharset {
  return format === 'mp3' ? charset ?? 'ISO-8859-1' : 'UTF-8';
}

// C0 and C1 controls, DEL; line and paragraph separators count as controls too.
const CONTROL_SPACE_RE = /[\t\n\v\f\r\u0085\u2028\u2029]/g;
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/g;
// Bidi embeddings, overrides and isolates can make a player show text in another order than it
// is stored ("Trojan source"); BOM/word-joiner-like invisibles carry nothing. Lone surrogates are
// not text. Noncharacters are not for interchange.
const INVISIBLE_RE = /[\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]|\p{Noncharacter_Code_Point}|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/gu;


/**
 * One title or artist, as any source sent it, made fit to keep and show: Unicode NFC, control
 * characters removed (CR, LF and tabs become a space), bidi overrides and other invisibles
 * removed, at most four combining marks on a letter, runs of spaces collapsed, ICY framing neutralised (see icySafe), and cut at
 * MAX_TITLE_CHARS / MAX_TITLE_BYTES on a character boundary with "…". undefined when nothing is
 * left (or the value is not a string).
 */
export function cleanTitleText(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  // bound the work: nothing past this could survive the cap anyway
  let s = raw.slice(0, 4 * MAX_TITLE_BYTES).replace(CONTROL_SPACE_RE, ' ').replace(CONTROL_RE, '').replace(INVISIBLE_RE, '');
  // NFC (é as one character, which Latin-1 has), at most four marks on a letter (no "Zalgo")
  s = s.normalize('NFC').replace(/(\p{M}{4})\p{M}+/gu, '$1').replace(/\s+/gu, ' ').trim();
  s = icySafe(cap(s));
  return s === '' ? undefined : s;
}

/** Title and artist cleaned alike; a field with nothing left is absent. */
export function cleanMetadata(m: { readonly title?: unknown; readonly artist?: unknown }): { title?: string; artist?: string } {
  const title = cleanTitleText(m.title);
  const artist = cleanTitleText(m.artist);
  return { ...(title !== undefined ? { title } : {}), ...(artist !== undefined ? { artist } : {}) };
}

const ELLIPSIS = '…';

function cap(s: string): string {
  if (s.length <= MAX_TITLE_CHARS && Buffer.byteLength(s, 'utf8') <= MAX_TITLE_BYTES) return s;
  const graphemes = Array.from(segmenter.segment(s), ({ segment }) => segment);
  if (graphemes.length <= MAX_TITLE_CHARS && Buffer.byteLength(s, 'utf8') <= MAX_TITLE_BYTES) return s;
  let out = '';
  let bytes = Buffer.byteLength(ELLIPSIS, 'utf8');
  for (const g of graphemes.slice(0, MAX_TITLE_CHARS - 1)) {
    bytes += Buffer.byteLength(g, 'utf8');
    if (bytes > MAX_TITLE_BYTES) break;
    out += g;
  }
  return `${out.trimEnd()}${ELLIPSIS}`;
}

/**
 * Break up what ends or starts an ICY field. Icecast writes `StreamTitle='<text>';` and players
 * read up to the first `';`; some also match `key='`. So a `;` after an apostrophe becomes `,`,
 * and an `=` before one becomes `:`. Ordinary apostrophes ("Don't", "Rock 'n' Roll") stay.
 * Idempotent; the result never contains `';` or `='` (spaces between count too).
 */
export function icySafe(s: string): string {
  return s.replace(/'(\s*);/g, "'$1,").replace(/=(\s*)'/g, ":$1'");
}

// Typographic characters Latin-1 lacks, with the plain text people type for them. Letters with
// accents Latin-1 lacks lose just the accents it lacks (see toLatin1Char); whole scripts go
// through the transliteration library.
const TYPOGRAPHIC: Readonly<Record<string, string>> = {
  '\u2010': '-', '\u2011': '-', '\u2012': '-', '\u2013': '-', '\u2014': '-', '\u2015': '-', '\u2043': '-', '\u2212': '-',
  '\u2018': "'", '\u2019': "'", '\u201a': "'", '\u201b': "'", '\u2032': "'", '\u02bc': "'", '\u02b9': "'",
  '\u201c': '"', '\u201d': '"', '\u201e': '"', '\u201f': '"', '\u2033': '"', '\u02ba': '"',
  '\u2039': '<', '\u203a': '>',
  '\u2026': '...', '\u2022': '\u00b7', '\u2027': '\u00b7', '\u2219': '\u00b7', '\u22c5': '\u00b7',
  '\u20ac': 'EUR', '\u2122': '(TM)', '\u2030': '0/00', '\u2116': 'No.',
  '\u2190': '<-', '\u2192': '->', '\u2194': '<->', '\u21d0': '<=', '\u21d2': '=>',
  '\u2248': '~', '\u2260': '!=', '\u2264': '<=', '\u2265': '>=', '\u2044': '/', '\u2215': '/',
};
const TYPOGRAPHIC_RE = new RegExp(`[${Object.keys(TYPOGRAPHIC).join('')}]`, 'gu');
/** Pictographs, emoji modifiers and joiners, music and other symbols: dropped, not "?". */
const DROPPED_RE = /^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\p{So}|\p{Sk}|\p{M}|[\u200b-\u200d\u2060\ufe00-\ufe0f])+$/u;

const isLatin1 = (s: string): boolean => /^[\u0000-\u00ff]*$/.test(s);

/** One character outside Latin-1: its Latin-1 form, or undefined when it has none of its own. */
function toLatin1Char(ch: string): string | undefined {
  // ǖ -> ü rather than u: drop accents from the outside in until Latin-1 has the letter
  const parts = [...ch.normalize('NFD')];
  while (parts.length > 1) {
    parts.pop();
    const c = parts.join('').normalize('NFC');
    if (isLatin1(c)) return c;
  }
  // compatibility forms: ﬁ -> fi, Ⅻ -> XII, full-width Ａ -> A, thin spaces -> space
  const k = ch.normalize('NFKC');
  if (k !== ch && isLatin1(k)) return k;
  return undefined;
}

/**
 * Text that an ISO-8859-1 mount carries as it is: Latin-1 characters kept (é, ö, ñ, ß, «»),
 * typographic ones replaced (— – → -, “ ” → ", ‘ ’ → ', … → ...), other Latin letters without
 * the accent Latin-1 lacks (ő → o, ł → l, ǖ → ü), other scripts transliterated (Привет → Privet,
 * Ελληνικά → Ellinika), emoji and symbols dropped, and what is still left (e.g. CJK) as one "?"
 * per run.
 */
export function toLatin1Text(text: string): string {
  const s = text.normalize('NFC').replace(TYPOGRAPHIC_RE, (c) => TYPOGRAPHIC[c] ?? c);
  let out = '';
  // runs of characters outside Latin-1, so a transliteration sees whole words
  for (const part of s.split(/([^\u0000-\u00ff]+)/u)) {
    if (isLatin1(part)) { out += part; continue; }
    let run = '';
    for (const ch of part) run += toLatin1Char(ch) ?? ch;
    if (!isLatin1(run)) run = transliterate(run);
    if (!isLatin1(run)) {
      run = run.replace(/[^\u0000-\u00ff]+/gu, (rest) => {
        const kept = [...segmenter.segment(rest)].map(({ segment }) => segment).filter((g) => !DROPPED_RE.test(g));
        return kept.length === 0 ? '' : '?';
      });
    }
    out += run;
  }
  return out.replace(/\s+/g, ' ').trim();
}

/**
 * What to send Icecast as the title of a mount whose titles are in `charset`: UTF-8 mounts get
 * the text as it is, ISO-8859-1 mounts its Latin-1 form. Either way the request carries UTF-8
 * with `charset=UTF-8` and Icecast converts: for a Latin-1 mount every character then exists in
 * the target. ICY framing is neutralised again, after transliteration (’; → ';).
 */
export function titleForMount(text: string, charset: TitleCharset): string {
  return icySafe(charset === 'UTF-8' ? text : toLatin1Text(text));
}
