// The signalling socket's text frames (docs/guests.md, "Signalling"): a pure parser that knows
// nothing about sockets. Every field is bounded and typed; what is relayed is rebuilt from the
// parsed fields only, so nothing a party adds to a frame reaches the other party. Unknown frame
// types are ignored (a newer page talking to an older daemon); malformed known ones are errors
// with the stable code IW_ERR_SIGNAL_BAD_MESSAGE.
import { createRequire } from 'node:module';
import type { z } from 'zod';
import { IcewireError } from '../errors.js';
import { MAX_SIGNAL_FRAME_BYTES, type CueData, type SignalData } from '../../www/src/wire-contract.js';

/**
 * The frames' schemas, made with the first guest frame: zod is loaded then (and kept while the
 * daemon runs), not at start, so an idle daemon holds none of it (docs/performance.md, Idle).
 */
function makeSchemas(z: Zod) {
  /** An invitation id, a guest page's instance: short, URL-safe. */
  const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
  /** Tokens and rejoin secrets: 32 random bytes as base64url, with room to spare. */
  const secret = z.string().min(1).max(200);

  const description = z.object({ type: z.enum(['offer', 'answer']), sdp: z.string().min(1).max(24 * 1024) });
  const candidate = z.object({
    candidate: z.string().max(1024),
    sdpMid: z.string().max(64).nullish(),
    sdpMLineIndex: z.number().int().min(0).max(64).nullish(),
    usernameFragment: z.string().max(256).nullish(),
  }).nullable();
  const signal = z.object({ description: description.optional(), candidate: candidate.optional(), restart: z.literal(true).optional() })
    .refine((s) => s.description !== undefined || s.candidate !== undefined || s.restart === true, 'a signal carries a description, a candidate or restart');
  const cue = z.object({ onAir: z.boolean(), muted: z.boolean() });

  const hello = z.discriminatedUnion('role', [
    z.object({ role: z.literal('host'), user: z.string().min(1).max(200), token: secret }),
    z.object({ role: z.literal('guest'), invitation: secret, name: z.string().max(200), instance: id, rejoin: secret.optional() }),
  ]);
  const envelopeSchema = z.object({ type: z.string().max(50), data: z.unknown() });
  const invite = z.object({ label: z.string().max(200).optional() });
  const withdraw = z.object({ id });
  const hostSignal = signal.and(z.object({ guest: id }));
  const hostCue = cue.and(z.object({ guest: id }));
  return { hello, signal, envelopeSchema, invite, withdraw, hostSignal, hostCue };
}
let schemas: ReturnType<typeof makeSchemas> | undefined;
const S = (): ReturnType<typeof makeSchemas> => (schemas ??= makeSchemas((createRequire(import.meta.url)('zod') as { z: Zod }).z));

type Zod = typeof z;
export type SignalHello = z.infer<ReturnType<typeof makeSchemas>['hello']>;

export type HostMessage =
  | { readonly type: 'invite'; readonly label: string }
  | { readonly type: 'withdraw'; readonly id: string }
  | { readonly type: 'signal'; readonly guest: string; readonly signal: SignalData }
  | { readonly type: 'cue'; readonly guest: string; readonly cue: CueData }
  | { readonly type: 'unknown' };

export type GuestMessage =
  | { readonly type: 'signal'; readonly signal: SignalData }
  | { readonly type: 'leave' }
  | { readonly type: 'unknown' };

function bad(detail: string): IcewireError {
  return new IcewireError('IW_ERR_SIGNAL_BAD_MESSAGE', { detail });
}

/** `{type, data}` from one text frame, bounded; throws IW_ERR_SIGNAL_BAD_MESSAGE. */
function envelope(text: string): { type: string; data: unknown } {
  if (Buffer.byteLength(text, 'utf8') > MAX_SIGNAL_FRAME_BYTES) throw bad(`text frame longer than ${MAX_SIGNAL_FRAME_BYTES} bytes`);
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    throw bad('text frame is not JSON');
  }
  const parsed = S().envelopeSchema.safeParse(msg);
  if (!parsed.success) throw bad('text frame is not {"type": "...", "data": {...}}');
  return { type: parsed.data.type, data: parsed.data.data ?? {} };
}

function field<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const r = schema.safeParse(data);
  if (!r.success) throw bad(`${what}: ${r.error.issues[0]?.path.join('.') ?? ''} ${r.error.issues[0]?.message ?? 'invalid'}`.slice(0, 300));
  return r.data;
}

/** Only the fields the other party may see, in their browser's own shape. */
function relayable(s: z.infer<ReturnType<typeof makeSchemas>['signal']>): SignalData {
  const c = s.candidate;
  return {
    ...(s.description !== undefined ? { description: { type: s.description.type, sdp: s.description.sdp } } : {}),
    ...(c !== undefined ? {
      candidate: c === null ? null : {
        candidate: c.candidate,
        ...(c.sdpMid != null ? { sdpMid: c.sdpMid } : {}),
        ...(c.sdpMLineIndex != null ? { sdpMLineIndex: c.sdpMLineIndex } : {}),
        ...(c.usernameFragment != null ? { usernameFragment: c.usernameFragment } : {}),
      },
    } : {}),
    ...(s.restart === true ? { restart: true as const } : {}),
  };
}

/** The first frame: who is knocking. */
export function parseSignalHello(text: string): SignalHello {
  const { type, data } = envelope(text);
  if (type !== 'hello') throw bad(`the first frame must be the hello, not "${type}"`);
  return field(S().hello, data, 'hello');
}

/** A host desk's frame after the hello. Hosts send offers; answers come from guests. */
export function parseHostMessage(text: string): HostMessage {
  const { type, data } = envelope(text);
  switch (type) {
    case 'invite': return { type, label: field(S().invite, data, 'invite').label ?? '' };
    case 'withdraw': return { type, id: field(S().withdraw, data, 'withdraw').id };
    case 'signal': {
      const s = field(S().hostSignal, data, 'signal');
      if (s.description !== undefined && s.description.type !== 'offer') throw bad('a host sends offers, not answers');
      return { type, guest: s.guest, signal: relayable(s) };
    }
    case 'cue': {
      const c = field(S().hostCue, data, 'cue');
      return { type, guest: c.guest, cue: { onAir: c.onAir, muted: c.muted } };
    }
    default: return { type: 'unknown' };
  }
}

/** A guest page's frame after the hello. Guests answer; they never offer. */
export function parseGuestMessage(text: string): GuestMessage {
  const { type, data } = envelope(text);
  switch (type) {
    case 'signal': {
      const s = field(S().signal, data, 'signal');
      if (s.description !== undefined && s.description.type !== 'answer') throw bad('a guest sends answers, not offers');
      return { type, signal: relayable(s) };
    }
    case 'leave': return { type };
    default: return { type: 'unknown' };
  }
}
