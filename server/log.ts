// winston root logger. JSON lines when stdout is not a TTY (the systemd journal), colour on a TTY.
// Redaction is the last line of defence: code must not log secrets in the first place, but any
// field named like a secret, and any configured secret value anywhere in a line, is masked.
import winston from 'winston';
import type Transport from 'winston-transport';
import { BoundedOutput } from './log-output.js';

export type Logger = winston.Logger;

const SECRET_KEY_RE = /pass(word)?|secret|token|authorization|hash/i;
const secretValues = new Set<string>();

/** Register a secret value (e.g. the Icecast source password) to be masked wherever it appears. */
export function registerSecret(value: string | undefined): void {
  if (value !== undefined && value.length >= 4) secretValues.add(value);
}

export function redactString(s: string): string {
  let out = s;
  for (const v of secretValues) {
    if (out.includes(v)) out = out.split(v).join('[redacted]');
  }
  return out;
}

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactString(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { name: value.name, message: redactString(value.message), ...('code' in value ? { code: (value as { code: unknown }).code } : {}) };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY_RE.test(k) && (typeof v === 'string' || typeof v === 'number') ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level') continue;
    const v = info[key];
    info[key] = SECRET_KEY_RE.test(key) && typeof v === 'string' ? '[redacted]' : redact(v);
  }
  return info;
});

/** `message [k=v k=v]` for a TTY: the sentence first, context after. */
const ttyLine = winston.format.printf((info) => {
  const { level, message, timestamp, ...rest } = info;
  const ctx = Object.entries(rest)
    .filter(([k]) => typeof k === 'string')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${String(timestamp)} ${level} ${String(message)}${ctx ? ` [${ctx}]` : ''}`;
});

export interface LoggerOptions {
  level?: string;
  /** Force JSON (true) or TTY text (false); default: JSON unless stdout is a TTY. */
  json?: boolean;
  /** Extra transports (tests capture lines with one). */
  transports?: Transport[];
  /** Write to stdout (default true). */
  console?: boolean;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const json = opts.json ?? !process.stdout.isTTY;
  const transports: Transport[] = [...(opts.transports ?? [])];
  // everything to stdout (the journal keeps the priority from the JSON level field), bounded
  if (opts.console !== false) {
    const stream = new BoundedOutput({ onDropped: (lines) => logger.warn('log lines dropped: the log\'s reader was too slow to take them', { lines }) });
    transports.push(new winston.transports.Stream({ stream }));
  }
  const logger = winston.createLogger({
    level: opts.level ?? 'info',
    format: json
      ? winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.json())
      : winston.format.combine(redactFormat(), winston.format.timestamp({ format: 'HH:mm:ss.SSS' }), winston.format.colorize(), ttyLine),
    transports,
  });
  return logger;
}
