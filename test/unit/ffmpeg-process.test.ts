// FfmpegProcess against a real ffmpeg (a raw PCM copy: what goes in comes out byte for byte):
// the bytes go straight into the child's own stdin pipe and come straight from its own stdout
// pipe (no Node stream pipe()d in between, fluent-ffmpeg's stdout ring taken off), and the
// contract around that holds: writes before the spawn kept and bounded like a Writable, 'drain',
// stop() before the spawn, kill() before the spawn, EPIPE after ffmpeg died, ENOENT.
// Event-driven throughout: no timing is asserted.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Socket } from 'node:net';
import { Readable, Writable } from 'node:stream';
import winston from 'winston';
import { IcewireError } from '../../server/errors.js';
import { createLogger } from '../../server/log.js';
import { FfmpegProcess, type FfmpegExit, type FfmpegProcessOptions } from '../../server/pipeline/ffmpeg-process.js';
import { liveChildren } from '../helpers/teardown.js';

const logger = createLogger({ console: false, transports: [new winston.transports.Stream({ stream: new Writable({ write: (_c, _e, cb) => cb() }) })] });
/** Raw 16-bit PCM in, the same out: ffmpeg copies it through. */
const PCM_IN = ['-f', 's16le', '-ar', '8000', '-ac', '1'];
const PCM_OUT = ['-c:a', 'pcm_s16le', '-f', 's16le'];

function pcm(bytes: number, seed = 1): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

/** An FfmpegProcess whose output is collected; exits counted. */
function proc(extra: Partial<FfmpegProcessOptions> = {}): { ff: FfmpegProcess; out: Buffer[]; exits: FfmpegExit[] } {
  const out: Buffer[] = [];
  const exits: FfmpegExit[] = [];
  const ff = new FfmpegProcess({ ffmpegPath: 'ffmpeg', inputOptions: PCM_IN, outputOptions: PCM_OUT, logger, onOutput: (c) => out.push(c), ...extra });
  ff.on('exit', (e) => exits.push(e));
  return { ff, out, exits };
}

/** Still running as this process's child. */
const alive = (pid: number): boolean => liveChildren().some((c) => c.pid === pid);

describe('FfmpegProcess (real ffmpeg, its own stdin and stdout pipes)', function () {
  this.timeout(30000);
  let pipes = 0;
  const pipe = Readable.prototype.pipe;

  before(() => {
    // any stream pipe()d to or from the child (fluent-ffmpeg's stream input/output) is counted
    Readable.prototype.pipe = function (this: Readable, ...args: Parameters<typeof pipe>) {
      pipes++;
      return pipe.apply(this, args);
    } as typeof pipe;
  });

  after(() => {
    Readable.prototype.pipe = pipe;
  });

  it('keeps what was written before the spawn (bounded: false, then one drain), and passes it through the child\'s own pipes', async () => {
    pipes = 0;
    const { ff, out, exits } = proc({ highWaterMark: 64 * 1024 });
    const input = pcm(400 * 1024);
    let falses = 0;
    for (let at = 0; at < input.length; at += 16 * 1024) {
      if (!ff.write(input.subarray(at, at + 16 * 1024))) falses++;
    }
    const early = ff.stdout;
    assert.equal(early, undefined, 'no stdout before the child exists');
    assert.equal(ff.writableLength, input.length, 'all of it waits');
    assert.ok(ff.needsDrain, 'past highWaterMark: write() said false');
    assert.equal(falses, 400 / 16 - 3, 'false from the write that reached highWaterMark on');
    let drains = 0;
    ff.on('drain', () => drains++);
    const drained = once(ff, 'drain');
    await ff.start();

    const stdout = ff.stdout;
    assert.ok(stdout instanceof Socket, 'stdout is the child\'s own pipe');
    // the consumer's listener and the producedOutput mark: fluent-ffmpeg's text ring is gone
    assert.equal(stdout.listenerCount('data'), 2);
    await drained;
    assert.equal(ff.needsDrain, false);
    const exit = await ff.stop();
    assert.equal(exit.clean, true, `stopped cleanly: ${exit.stderr.join(' | ')}`);
    assert.equal(exit.producedOutput, true);
    await ff.outputEnded();
    assert.ok(Buffer.concat(out).equals(input), 'ffmpeg got every byte, in order, and gave them all back');
    assert.equal(stdout.listenerCount('data'), 1, 'only the consumer reads stdout');
    assert.equal(pipes, 0, 'nothing pipe()d into stdin or out of stdout');
    assert.equal(drains, 1);
    assert.equal(exits.length, 1, "'exit' exactly once");
    assert.equal(ff.writableLength, 0);
    assert.ok(!alive(ff.pid!), 'reaped');
  });

  it('holds stdin full while the consumer pauses stdout, and drains once it resumes', async () => {
    const { ff, out } = proc({ highWaterMark: 64 * 1024 });
    await ff.start();
    const chunk = pcm(64 * 1024, 2);
    ff.stdout!.pause();
    // ffmpeg blocks on its full stdout, so its stdin fills: write() says false within bounds
    let written = 0;
    while (ff.write(chunk)) {
      written += chunk.length;
      if (!ff.needsDrain && ff.writableLength === 0) await new Promise((r) => setImmediate(r));
      assert.ok(written < 64 * 1024 * 1024, 'write() never said false');
    }
    written += chunk.length;
    assert.ok(ff.needsDrain);
    assert.ok(ff.writableLength >= 64 * 1024);
    const drained = once(ff, 'drain');
    ff.stdout!.resume();
    await drained;
    await ff.stop();
    await ff.outputEnded();
    assert.equal(Buffer.concat(out).length, written);
  });

  it('stop() before the spawn: what was written still goes through, then ffmpeg finishes', async () => {
    const { ff, out, exits } = proc();
    const input = pcm(40 * 1024, 3);
    ff.write(input);
    const started = ff.start();
    const exited = ff.stop();
    await started;
    const exit = await exited;
    assert.equal(exit.clean, true, exit.stderr.join(' | '));
    await ff.outputEnded();
    assert.ok(Buffer.concat(out).equals(input));
    assert.equal(exits.length, 1);
  });

  it('kill() before the spawn kills the child as it spawns (reaped, exit once)', async () => {
    const { ff, exits } = proc();
    const started = ff.start();
    const exited = ff.kill();
    await started;
    const exit = await exited;
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(exit.clean, false);
    assert.equal(exits.length, 1);
    assert.ok(!alive(ff.pid!));
  });

  it('writes after ffmpeg died (EPIPE on its stdin) do not throw; the crash is classified', async () => {
    // ffmpeg stops reading after 0.01 s of audio and exits while writes keep coming
    const { ff, exits } = proc({ outputOptions: ['-t', '0.01', ...PCM_OUT] });
    await ff.start();
    const exited = once(ff, 'exit');
    const chunk = pcm(16 * 1024, 4);
    while (exits.length === 0) {
      ff.write(chunk);
      await new Promise((r) => setImmediate(r));
    }
    await exited;
    assert.equal(ff.write(chunk), true, 'writes after the exit are dropped');
    assert.equal(exits.length, 1);
    assert.equal(exits[0]!.clean, false, 'it was not asked to stop');
    assert.equal(ff.needsDrain, false);
    assert.equal(ff.writableLength, 0);
  });

  it('a missing ffmpeg rejects start() with IW_ERR_PIPELINE_START_FAILED and says what to do', async () => {
    const { ff, exits } = proc({ ffmpegPath: '/nonexistent/ffmpeg' });
    ff.write(pcm(1024));
    await assert.rejects(ff.start(), (err: unknown) => {
      assert.ok(err instanceof IcewireError);
      assert.equal(err.code, 'IW_ERR_PIPELINE_START_FAILED');
      assert.match(String(err.detail), /ffmpeg not found at "\/nonexistent\/ffmpeg"/);
      return true;
    });
    assert.equal(exits.length, 1);
    assert.equal(exits[0]!.errorCode, 'IW_ERR_PIPELINE_START_FAILED');
    await ff.outputEnded();
  });
});
