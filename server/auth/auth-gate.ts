// The one login gate every front door goes through (the broadcasters' WebSocket, POST /api/login,
// and later the Icecast-protocol source port and guest tokens): one failed-login limiter for the
// whole daemon, so a guesser gets the same number of tries whichever door they knock on.
//
// The sequence for an account login: refuse an address over its limit (before any expensive
// work), check the password (scrypt, the same time for an unknown user), count the failure or
// clear the address. In passthrough mode Icecast checks the password; its refusal counts here too.
// Refusals are logged here, once, with the door they came through.
import type { Config } from '../config/schema.js';
import { IcewireError } from '../errors.js';
import type { Logger } from '../log.js';
import { FailedLoginLimiter } from './login-limiter.js';
import { verifyPasswordFor } from './password-hash.js';

export { clientAddress } from './client-address.js';
export { originAllowed } from './origin.js';

/** The ways in. */
export type Door = 'websocket' | 'http-login' | 'icecast-source';

export type Account = Config['broadcasters'][number];

export interface LoginAttempt {
  readonly door: Door;
  /** The client address (clientAddress()). */
  readonly addr: string;
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** A login token (POST /api/login) in place of the password; checked instead of it when given. */
  readonly token?: string | undefined;
}

export interface AuthGateOptions {
  /** The accounts now (they change on reload). */
  readonly accounts: () => readonly Account[];
  readonly limits: Pick<Config['limits'], 'maxFailedLogins' | 'failedLoginWindowMs'>;
  readonly logger: Logger;
  readonly now?: () => number;
  /** The logged-in sessions of POST /api/login: a token's user, while it is valid. */
  readonly loginTokens?: { get(token: string): string | undefined };
}

export class AuthGate {
  private readonly byAddress: FailedLoginLimiter;

  constructor(private readonly opts: AuthGateOptions) {
    this.byAddress = new FailedLoginLimiter(opts.limits.maxFailedLogins, opts.limits.failedLoginWindowMs, opts.now);
  }

  /** Throws IW_ERR_AUTH_RATE_LIMITED when this client may not try to log in now. */
  admit(a: Pick<LoginAttempt, 'door' | 'addr' | 'user'>): void {
    if (this.byAddress.allowed(a.addr)) return;
    this.refused(a, 'IW_ERR_AUTH_RATE_LIMITED');
  }

  /** An account login: resolves with the account, or rejects with IW_ERR_AUTH_RATE_LIMITED / IW_ERR_AUTH_FAILED. */
  async login(a: LoginAttempt): Promise<Account> {
    this.admit(a);
    const account = this.opts.accounts().find((b) => b.name === a.user);
    if (a.token !== undefined && a.token !== '') {
      // A login token stands for the password it was issued for: valid, and this user's.
      const owner = this.opts.loginTokens?.get(a.token);
      if (account === undefined || owner !== account.name) {
        this.byAddress.recordFailure(a.addr);
        this.refused(a, 'IW_ERR_AUTH_FAILED');
      }
      this.byAddress.recordSuccess(a.addr);
      return account;
    }
    // verifyPasswordFor spends the same time on an unknown user (no user enumeration by timing)
    const ok = await verifyPasswordFor(a.password ?? '', account?.passwordHash);
    if (!ok || account === undefined) {
      this.byAddress.recordFailure(a.addr);
      this.refused(a, 'IW_ERR_AUTH_FAILED');
    }
    this.byAddress.recordSuccess(a.addr);
    return account;
  }

  /** Passthrough mode: Icecast refused the password this client typed. A failed login all the same. */
  upstreamRefused(a: Pick<LoginAttempt, 'door' | 'addr' | 'user'>): void {
    this.byAddress.recordFailure(a.addr);
    this.opts.logger.info('login refused by Icecast', { door: a.door, addr: a.addr, user: a.user?.slice(0, 100) });
  }

  private refused(a: Pick<LoginAttempt, 'door' | 'addr' | 'user'>, code: 'IW_ERR_AUTH_FAILED' | 'IW_ERR_AUTH_RATE_LIMITED'): never {
    this.opts.logger.info('login refused', { door: a.door, code, addr: a.addr, user: a.user?.slice(0, 100) });
    throw new IcewireError(code);
  }
}
