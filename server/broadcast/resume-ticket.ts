// Who may continue a broadcast after a drop: the same broadcaster (in passthrough mode also with
// the same Icecast password: that is their credential; in accounts mode both sides hold the
// config's), sending the same kind of media (the same container and codec, audio stays audio),
// and either
//   - presenting its resume token (a webcast client: status frames carry it), or
//   - for a show from a desktop source client, which has no token to present (the Icecast
//     protocol has none): coming through the same door while its previous connection is gone or
//     has sent nothing for a few seconds (butt reconnects by itself; a second client that is
//     really live is not pushed aside).
import { randomBytes, timingSafeEqual } from 'node:crypto';

/** The front door a broadcast came through. */
export type IngestKind = 'websocket' | 'icecast-source';

export interface ResumeClaim {
  readonly token: string | undefined;
  readonly user: string;
  readonly sourcePassword: string;
  readonly ingest: IngestKind;
  /** The kind of media (mediaShape()). */
  readonly shape: string;
}

export interface TicketHolder {
  readonly user: string;
  readonly sourcePassword: string;
  readonly ingest: IngestKind;
  readonly shape: () => string;
  /** The broadcast's client is gone, or silent for a while. */
  readonly clientGone: () => boolean;
}

/** What must stay the same across a resume: container, audio codec, audio-only or video. */
export function mediaShape(input: { readonly container: string; readonly audio: string | undefined; readonly video: string | undefined }): string {
  return `${input.container}/${input.audio ?? '?'}/${input.video !== undefined ? 'video' : 'audio'}`;
}

export class ResumeTicket {
  /** Opaque, in status frames to the broadcaster only (protocol.md: at most 200 characters). */
  readonly token = randomBytes(18).toString('base64url');

  constructor(private readonly holder: TicketHolder) {}

  admits(c: ResumeClaim): boolean {
    if (c.user !== this.holder.user || c.shape !== this.holder.shape()) return false;
    if (!sameSecret(c.sourcePassword, this.holder.sourcePassword)) return false;
    if (c.token !== undefined) return sameSecret(c.token, this.token);
    return c.ingest === 'icecast-source' && this.holder.ingest === 'icecast-source' && this.holder.clientGone();
  }
}

/** Constant-time comparison (a guesser learns nothing from how long a refusal takes). */
function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
