// ffmpeg 5.1 stderr -> error code. The lines are copied from real ffmpeg 5.1 runs (garbage on
// stdin, a recording without the mapped stream, a missing encoder, ordinary warnings).
import assert from 'node:assert/strict';
import type { ErrorCode } from '../../server/errors.js';
import { classifyFfmpegFailure, summarizeStderr } from '../../server/pipeline/ffmpeg-errors.js';

const EBML = '[matroska,webm @ 0x5619b9806980] EBML header parsing failed';
const INVALID = 'pipe:0: Invalid data found when processing input';
const NO_STREAM = "Stream map '0:a:0' matches no streams.";
const NO_STREAM_HINT = "To ignore this, add a trailing '?' to the map.";
const UNKNOWN_ENCODER = "Unknown encoder 'libfoo'";
const PREMATURE = '[matroska,webm @ 0x5619b9806980] File ended prematurely';
const WARNING = '[libopus @ 0x55d0c8a4b2c0] No bit rate set. Defaulting to 96000 bps.';
const QUEUE = 'Too many packets buffered for output stream 0:0.';

const CLASSIFY: { what: string; lines: string[]; want: ErrorCode }[] = [
  { what: 'EBML header parsing failed', lines: [PREMATURE, EBML, INVALID], want: 'IW_ERR_INGEST_INVALID_MEDIA' },
  { what: 'EBML header line alone', lines: [EBML], want: 'IW_ERR_INGEST_INVALID_MEDIA' },
  { what: 'pipe:0: Invalid data found when processing input', lines: [INVALID], want: 'IW_ERR_INGEST_INVALID_MEDIA' },
  { what: "Stream map '0:a:0' matches no streams (a recording without audio)", lines: [NO_STREAM, NO_STREAM_HINT], want: 'IW_ERR_INGEST_INVALID_MEDIA' },
  { what: 'invalid EBML number', lines: ['[matroska,webm @ 0x5560d7c4e940] 0x00 at pos 45 (0x2d) invalid as first byte of an EBML number'], want: 'IW_ERR_INGEST_INVALID_MEDIA' },
  { what: 'low-score format detection', lines: ['[ogg @ 0x55a1] Format ogg detected only with low score of 1, misdetection possible!'], want: 'IW_ERR_INGEST_INVALID_MEDIA' },
  { what: 'could not find codec parameters', lines: ["[matroska,webm @ 0x55] Could not find codec parameters for stream 0 (Audio: opus, 0 channels): unspecified sample format"], want: 'IW_ERR_INGEST_INVALID_MEDIA' },
  { what: 'Opus packet header error', lines: ['[opus @ 0x55] Error parsing Opus packet header.'], want: 'IW_ERR_INGEST_INVALID_MEDIA' },
  { what: "Unknown encoder 'libfoo'", lines: [UNKNOWN_ENCODER], want: 'IW_ERR_PIPELINE_FAILED' },
  { what: 'encoder not found', lines: ['Encoder not found'], want: 'IW_ERR_PIPELINE_FAILED' },
  { what: 'an unrelated warning only', lines: [WARNING], want: 'IW_ERR_PIPELINE_FAILED' },
  { what: 'a muxer queue warning', lines: [QUEUE], want: 'IW_ERR_PIPELINE_FAILED' },
  { what: 'end of file on an empty stdin', lines: ['pipe:0: End of file'], want: 'IW_ERR_PIPELINE_FAILED' },
  { what: 'no stderr at all', lines: [], want: 'IW_ERR_PIPELINE_FAILED' },
  { what: 'invalid media wins over a missing encoder, whatever the order', lines: [UNKNOWN_ENCODER, WARNING, EBML], want: 'IW_ERR_INGEST_INVALID_MEDIA' },
];

describe('classifyFfmpegFailure', () => {
  for (const { what, lines, want } of CLASSIFY) {
    it(`${what} -> ${want}`, () => {
      assert.equal(classifyFfmpegFailure(lines), want);
    });
  }
});

const SUMMARY: { what: string; lines: string[]; want: string }[] = [
  { what: 'the last telling line, not the hint after it', lines: [WARNING, NO_STREAM, NO_STREAM_HINT], want: NO_STREAM },
  { what: 'the later of two telling lines', lines: [PREMATURE, EBML, INVALID], want: INVALID },
  { what: 'an unknown encoder over a warning', lines: [UNKNOWN_ENCODER, WARNING], want: UNKNOWN_ENCODER },
  { what: 'the last line when none is telling', lines: ['first', WARNING], want: WARNING },
  { what: 'the empty string for no lines', lines: [], want: '' },
  { what: 'a telling line cut to 300 characters', lines: [`Error: ${'x'.repeat(400)}`], want: `Error: ${'x'.repeat(293)}` },
  { what: 'a plain last line cut to 300 characters', lines: ['y'.repeat(500)], want: 'y'.repeat(300) },
];

describe('summarizeStderr', () => {
  for (const { what, lines, want } of SUMMARY) {
    it(`gives ${what}`, () => {
      const got = summarizeStderr(lines);
      assert.equal(got, want);
      assert.ok(got.length <= 300);
    });
  }

  it('does not reorder the caller\'s array', () => {
    const lines = [EBML, WARNING];
    summarizeStderr(lines);
    assert.deepEqual(lines, [EBML, WARNING]);
  });
});
