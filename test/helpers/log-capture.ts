// A logger for unit tests whose lines (parsed JSON) the test can read.
import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger, type Logger } from '../../server/log.js';

export interface LogLine { level: string; message: string; [key: string]: unknown }

export function captureLogger(): { logger: Logger; lines: () => LogLine[] } {
  const raw: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { raw.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0)); cb(); } });
  const logger = createLogger({ level: 'debug', json: true, console: false, transports: [new winston.transports.Stream({ stream: sink })] });
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as LogLine) };
}
