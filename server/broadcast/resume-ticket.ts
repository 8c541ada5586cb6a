// Who may continue a broadcast after a drop: whoever presents its resume token, as the same
// broadcaster (in passthrough mode also with the same Icecast password: that is their credential;
// in accounts mode both sides hold the config's), sending the same kind of media (audio stays audio).
import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface ResumeClaim {
  readonly token: string | undefined;
  readonly user: string;
  readonly sourcePassword: string;
  readonly video: boolean;
}

export class ResumeTicket {
  /** Opaque, in status frames to the broadcaster only (protocol.md: at most 200 characters). */
  readonly token = randomBytes(18).toString('base64url');

  constructor(private readonly holder: { readonly user: string; readonly sourcePassword: string; readonly video: () => boolean }) {}

  admits(c: ResumeClaim): boolean {
    if (c.token === undefined || c.user !== this.holder.user) return false;
    if (!sameSecret(c.sourcePassword, this.holder.sourcePassword) || !sameSecret(c.token, this.token)) return false;
    return c.video === this.holder.video();
  }
}

/** Constant-time comparison (a guesser learns nothing from how long a refusal takes). */
function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
