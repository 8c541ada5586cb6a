// Who a desktop source client is, through the one login gate (auth/): its HTTP Basic credentials
// on a source request or a metadata update. In accounts mode the user and password are the host's
// icewire login; clients that can only send the user `source` (some can't change it) name the
// host in the mount path instead: `/live/alice` with `source:<alice's password>`. In passthrough
// mode Icecast judges the credentials when the daemon connects with them: the password is an
// upstream guess, counted from the moment it is made, which the caller settles once (accepted when
// Icecast takes it, refused on Icecast's 401, withdrawn when it was never judged). Every guess
// counts in the same ledger as the page's.
import type { AuthGate, UpstreamGuess } from '../auth/auth-gate.js';
import type { Config } from '../config/schema.js';
import { STATION_MOUNT_RE } from '../config/schema.js';
import { IcewireError } from '../errors.js';
import { mountTarget, type MountTarget } from './icecast-protocol.js';

export type SourceAuthConfig = Pick<Config, 'auth' | 'mounts'>;

/** The detail of a refusal to a request without credentials (clients ask so for the challenge). */
export const NO_CREDENTIALS = 'no credentials (the client asks for the challenge first)';

/** The user name clients send when they can't be told another (Icecast's source user). */
export const SOURCE_USER = 'source';

/** The station a (decoded) mount path names; IW_ERR_MOUNT_UNKNOWN when none. */
export function stationTarget(cfg: SourceAuthConfig, decodedPath: string): MountTarget {
  const renditions = new Map<string, string>();
  if (cfg.auth.mode === 'accounts') {
    for (const [id, m] of Object.entries(cfg.mounts)) for (const r of m.renditions) renditions.set(r.mount, id);
  }
  const isStation = (id: string): boolean => (cfg.auth.mode === 'accounts' ? Object.hasOwn(cfg.mounts, id) : STATION_MOUNT_RE.test(id));
  const target = mountTarget(decodedPath, renditions, isStation);
  // passthrough has no hosts: `/a/b` is no Icecast mount it can use
  if (target === undefined || (cfg.auth.mode === 'passthrough' && target.host !== undefined)) {
    throw new IcewireError('IW_ERR_MOUNT_UNKNOWN', { detail: `no station for the mount ${JSON.stringify(decodedPath.slice(0, 100))}` });
  }
  return target;
}

/** Who a source client turned out to be. */
export interface SourceIdentity {
  /** The account (accounts mode), or the Icecast user as the log may show it (auth.logName()). */
  readonly user: string;
  /** Passthrough: Icecast is still to judge the password; the caller settles it exactly once. */
  readonly guess: UpstreamGuess | undefined;
}

/**
 * The account (accounts mode) allowed on the target's station, or (passthrough) the Icecast user
 * with the guess Icecast is to judge. Throws IW_ERR_AUTH_FAILED / IW_ERR_AUTH_RATE_LIMITED /
 * IW_ERR_AUTH_BUSY (counted and logged by the gate) or IW_ERR_MOUNT_FORBIDDEN.
 */
export async function authenticateSource(
  auth: AuthGate,
  cfg: SourceAuthConfig,
  o: { addr: string; target: MountTarget; creds: { user: string; password: string } | undefined },
): Promise<SourceIdentity> {
  if (o.creds === undefined) {
    // libshout asks without credentials first, for the challenge: not a guess, not counted (but
    // an address over its limit hears so now)
    auth.admit({ door: 'icecast-source', addr: o.addr });
    throw new IcewireError('IW_ERR_AUTH_FAILED', { detail: NO_CREDENTIALS });
  }
  if (cfg.auth.mode !== 'accounts') {
    const guess = await auth.upstreamGuess({ door: 'icecast-source', addr: o.addr, user: o.creds.user, target: `/${o.target.station}` });
    return { user: auth.logName(o.creds.user) ?? '', guess };
  }
  const user = o.creds.user === SOURCE_USER && o.target.host !== undefined ? o.target.host : o.creds.user;
  const account = await auth.login({ door: 'icecast-source', addr: o.addr, user, password: o.creds.password });
  if (!account.mounts.includes(o.target.station)) {
    throw new IcewireError('IW_ERR_MOUNT_FORBIDDEN', { detail: `${account.name} may not broadcast on ${o.target.station}` });
  }
  return { user: account.name, guess: undefined };
}
