// Known ffmpeg stderr lines mapped to error codes. Pure and table-tested
// (test/unit/ffmpeg-errors.test.ts); the lines are what ffmpeg 5.1 prints.
import type { ErrorCode } from '../errors.js';

const INVALID_MEDIA: RegExp[] = [
  /EBML header parsing failed/,
  /Invalid data found when processing input/,
  /matches no streams/,
  /invalid as first byte of an EBML number/,
  /Format (matroska|ogg) detected only with low score/,
  /Could not find codec parameters/,
  /Invalid packet|Error parsing Opus packet header|Page at .* is missing granule/,
];

const MISSING_ENCODER: RegExp[] = [/Unknown encoder/, /Encoder not found/, /Requested output format '.*' is not a suitable output format/];

/** The code for an ffmpeg that exited with an error, from its last stderr lines. */
export function classifyFfmpegFailure(stderrLines: readonly string[]): ErrorCode {
  for (const line of stderrLines) {
    if (INVALID_MEDIA.some((re) => re.test(line))) return 'IW_ERR_INGEST_INVALID_MEDIA';
  }
  for (const line of stderrLines) {
    if (MISSING_ENCODER.some((re) => re.test(line))) return 'IW_ERR_PIPELINE_FAILED';
  }
  return 'IW_ERR_PIPELINE_FAILED';
}

/**
 * The code for an ffmpeg that exited with an error. One that exited by itself before writing any
 * output (a missing encoder, an argument it does not take, not an ffmpeg at all) never worked:
 * IW_ERR_PIPELINE_START_FAILED, which restarting cannot fix. Bad input stays bad input.
 */
export function classifyFfmpegExit(exit: { stderr: readonly string[]; producedOutput: boolean; signal: string | null }): ErrorCode {
  const code = classifyFfmpegFailure(exit.stderr);
  if (code === 'IW_ERR_INGEST_INVALID_MEDIA') return code;
  if (!exit.producedOutput && exit.signal === null) return 'IW_ERR_PIPELINE_START_FAILED';
  return code;
}

/** The most telling stderr line, for a one-line log summary. */
export function summarizeStderr(stderrLines: readonly string[]): string {
  const telling = [...stderrLines].reverse().find((l) => /error|invalid|failed|not found|unknown|matches no/i.test(l));
  return (telling ?? stderrLines[stderrLines.length - 1] ?? '').slice(0, 300);
}
