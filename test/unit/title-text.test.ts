// The title boundary (server/icecast/title-text.ts), table-tested. What Icecast then does with the
// text is tested against a real icecast2 in test/integration/titles.test.ts.
import assert from 'node:assert/strict';
import {
  MAX_TITLE_BYTES, MAX_TITLE_CHARS, cleanMetadata, cleanTitleText, icySafe, titleForMount, toLatin1Text,
} from '../../server/icecast/title-text.js';
import { icyFields } from '../helpers/icy-listener.js';

describe('title text: cleanTitleText (every title and artist, from any source)', () => {
  const cases: [string, unknown, string | undefined][] = [
    ['plain text stays', 'Morning Show', 'Morning Show'],
    ['an apostrophe stays', "Don't Stop Me Now", "Don't Stop Me Now"],
    ['Rock \'n\' Roll stays', "Rock 'n' Roll", "Rock 'n' Roll"],
    ['accents, Cyrillic, CJK, emoji stay', 'Évening Шоу 日本 🎙️', 'Évening Шоу 日本 🎙️'],
    ['a ZWJ emoji sequence stays whole', 'DJ 👩‍🎤', 'DJ 👩‍🎤'],
    ['decomposed é becomes one character (NFC)', 'E\u0301vening', 'Évening'],
    ['CR/LF become a space', 'one\r\ntwo\nthree', 'one two three'],
    ['NUL and other controls go', 'a\u0000b\u0007c\u001bd\u007fe\u0085f\u009bg', 'abcde fg'],
    ['tabs and runs of spaces collapse', '  a \t\t b  ', 'a b'],
    ['bidi overrides go', 'abc\u202edcba\u202c', 'abcdcba'],
    ['a BOM goes', '\ufeffTitle', 'Title'],
    ['a lone surrogate goes', 'a\ud800b', 'ab'],
    ['Zalgo is bounded to four marks per letter', `a${'\u0301'.repeat(50)}`, `á${'\u0301'.repeat(4)}`],
    ['nothing left: undefined', ' \r\n\u0000 ', undefined],
    ['not a string: undefined', 42, undefined],
    ['undefined: undefined', undefined, undefined],
  ];
  for (const [what, input, want] of cases) {
    it(what, () => assert.equal(cleanTitleText(input), want));
  }

  it('the ICY injection becomes one harmless field', () => {
    const t = cleanTitleText("x';StreamUrl='http://evil.example/';\r\nfoo\u0000bar")!;
    assert.doesNotMatch(t, /'\s*;|=\s*'|[\u0000-\u001f]/);
    assert.deepEqual(icyFields(`StreamTitle='${t}';`), [{ key: 'StreamTitle', value: t }]);
    assert.equal(t, "x',StreamUrl:'http://evil.example/', foobar");
  });

  it('caps at MAX_TITLE_CHARS characters, with …, on a character boundary', () => {
    const t = cleanTitleText('ab'.repeat(500))!;
    assert.equal([...t].length, MAX_TITLE_CHARS);
    assert.ok(t.endsWith('…'));
    const emoji = cleanTitleText('👩‍🎤'.repeat(300))!;
    assert.ok(Buffer.byteLength(emoji) <= MAX_TITLE_BYTES, `${Buffer.byteLength(emoji)} bytes`);
    assert.match(emoji, /^(?:👩‍🎤)+…$/u, 'no emoji cut in half');
  });

  it('a title at the cap exactly is kept whole', () => {
    const t = 'é'.repeat(MAX_TITLE_CHARS);
    assert.equal(cleanTitleText(t), t);
  });

  it('cleanMetadata cleans both fields and drops empty ones', () => {
    assert.deepEqual(cleanMetadata({ title: ' Song\n', artist: '\u0000' }), { title: 'Song' });
    assert.deepEqual(cleanMetadata({ title: 'T', artist: 'A' }), { title: 'T', artist: 'A' });
    assert.deepEqual(cleanMetadata({}), {});
  });
});

describe('title text: icySafe', () => {
  const cases: [string, string][] = [
    ["Don't", "Don't"],
    ["a';b", "a',b"],
    ["a' ;b", "a' ,b"],
    ["k='v'", "k:'v'"],
    ["k = 'v'", "k : 'v'"],
    ['a;b', 'a;b'],
    ['a=b', 'a=b'],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} -> ${JSON.stringify(want)}`, () => {
      assert.equal(icySafe(input), want);
      assert.equal(icySafe(want), want, 'idempotent');
    });
  }
});

describe('title text: for an ISO-8859-1 mount (Icecast\'s default for MP3)', () => {
  const cases: [string, string][] = [
    ['Évening Shöw — “live” …', 'Évening Shöw - "live" ...'],
    ['‘quoted’ – dash ‐ hyphen − minus', "'quoted' - dash - hyphen - minus"],
    ['«Guillemets» ½ ß ñ ÿ', '«Guillemets» ½ ß ñ ÿ'],
    ['‹one› • two', '<one> · two'],
    ['5 € ™ ‰', '5 EUR (TM) 0/00'],
    ['Łódź Żółć Dvořák Őrség', 'Lódz Zólc Dvorák Orség'],
    ['ǖ œ Œ ş ğ', 'ü oe OE s g'],
    ['ﬁne Ⅻ Ａ', 'fine XII A'],
    ['Привет мир', 'Privet mir'],
    ['Ελληνικά', 'Ellinika'],
    ['Live 🎙️ now ♪', 'Live now'],
    ['日本の歌 - Live', '? - Live'],
    ['a\u2003b', 'a b'],
  ];
  for (const [input, want] of cases) {
    it(`${input} -> ${want}`, () => {
      const got = toLatin1Text(input);
      assert.equal(got, want);
      assert.match(got, /^[\u0000-\u00ff]*$/, 'only Latin-1 characters');
    });
  }

  it('titleForMount neutralises ICY framing after transliteration (’; -> \';)', () => {
    const t = titleForMount('x’;y =’z', 'ISO-8859-1');
    assert.doesNotMatch(t, /'\s*;|=\s*'/);
    assert.equal(t, "x',y :'z");
  });

  it('titleForMount leaves a UTF-8 mount\'s title as it is', () => {
    assert.equal(titleForMount('Привет 🎙️ — “x”', 'UTF-8'), 'Привет 🎙️ — “x”');
  });
});
