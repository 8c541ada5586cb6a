// The one login gate every front door goes through (the broadcasters' WebSocket, POST /api/login,
// the Icecast-protocol source door, the guests' door with its invitation tokens): one count of
// guesses for the whole daemon, so a guesser gets the same number of tries whichever doors they
// knock on, and at once.
//
// An account login (login()): the guess is counted first (refused if its address, its account
// or the pair is over its limit), then its password is checked in the daemon's one check queue
// (check-queue.ts: bounded, fair per address), then it fails (it keeps counting) or succeeds
// (it clears its own failures only). In passthrough mode Icecast checks the password
// (upstreamGuess()): counted the same way from the moment it is made.
//
// Limits, each over limits.failedLoginWindowMs (docs/security.md has the reasoning):
//   per address   limits.maxFailedLogins guesses being checked or failed, whatever the account;
//                 when the ones being checked fill it, a new guess waits for them (bounded) rather
//                 than being refused: successes free their places, so concurrent right passwords
//                 all get in, concurrent wrong ones get no more checks than the limit
//   per account   limits.maxFailedLoginsPerAccount, from addresses it has not logged in from
//   per pair      limits.maxFailedLogins for an (account, address) with a recent success: it
//                 stands apart from its address's and its account's counts, so neither a flood
//                 behind the same address nor a lock-out of the account keeps its owner out
//
// Refusals are logged here, once, with the door they came through. A name that is not a
// configured broadcaster (a password typed into the user field, say) is never logged as typed.
import { createHmac, randomBytes } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { IcewireError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { CheckQueue } from './check-queue.js';
import { GuessLedger, type Guess } from './guess-ledger.js';
import { KnownLogins, pairKey } from './known-logins.js';
import { RepeatedLines } from './repeated-lines.js';
import { verifyPasswordFor } from './password-hash.js';

export { clientAddress } from './client-address.js';
export { originAllowed } from './origin.js';

/** The ways in. */
export type Door = 'websocket' | 'http-login' | 'icecast-source' | 'guests';

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

/** A password someone else judges (passthrough: Icecast). Counted when made; settle it once. */
export interface UpstreamGuess {
  /** Icecast took it. */
  accepted(): void;
  /** Icecast refused it: a failed login. */
  refused(): void;
  /** It was never judged (Icecast unreachable, the mount busy, the client gone). */
  withdrawn(): void;
}

export interface AuthGateOptions {
  /** The accounts now (they change on reload). */
  readonly accounts: () => readonly Account[];
  /** Icecast's source user (passthrough broadcasters type it): a name that may be logged. */
  readonly icecastUser?: string;
  readonly limits: Pick<Config['limits'], 'maxFailedLogins' | 'maxFailedLoginsPerAccount' | 'failedLoginWindowMs'>;
  readonly logger: Logger;
  readonly now?: () => number;
  /** The password check queue (tests give a small one). */
  readonly checks?: CheckQueue;
  /** Timers for a guess waiting for room (tests give a fake clock's). */
  readonly timers?: Pick<Clock, 'after'>;
  /** The logged-in sessions of POST /api/login: a token's user, while it is valid. */
  readonly loginTokens?: { get(token: string): string | undefined };
}

/**
 * How long a guess waits for room while its address's allowance is filled by checks still under
 * way: longer than a full check queue takes (64 checks of ~100 ms, one at a time).
 */
export const LOGIN_WAIT_MS = 10000;
/** Retry-After for a refusal that is about checks under way, not failures (seconds). */
const CHECKS_RETRY_AFTER_S = 5;

/** What refused a guess before it was checked. */
type Limit = 'address' | 'account' | 'pair';

/** One guess, counted under each key it is limited by. */
class Claim {
  private settled = false;

  constructor(
    private readonly ledger: GuessLedger,
    private readonly known: KnownLogins,
    private readonly target: string,
    private readonly addr: string,
    private readonly counted: readonly (readonly [key: string, guess: Guess])[],
  ) {}

  fail(): void {
    if (this.settle()) for (const [, g] of this.counted) this.ledger.fail(g);
  }

  withdraw(): void {
    if (this.settle()) for (const [key, g] of this.counted) this.ledger.drop(key, g);
  }

  /** Right: this guess and the failures of the same pair stop counting; nobody else's do. */
  succeed(): void {
    if (!this.settle()) return;
    for (const [key, g] of this.counted) this.ledger.drop(key, g);
    this.ledger.forget(addressKey(this.addr), this.target);
    this.ledger.forget(accountKey(this.target), this.addr);
    this.ledger.forget(pairLedgerKey(this.target, this.addr));
    this.known.remember(this.target, this.addr);
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    return true;
  }
}

const addressKey = (addr: string): string => `address ${addr}`;
const accountKey = (name: string): string => `account ${name}`;
const pairLedgerKey = (name: string, addr: string): string => `pair ${pairKey(name, addr)}`;

export class AuthGate {
  private readonly ledger: GuessLedger;
  private readonly known: KnownLogins;
  private readonly checks: CheckQueue;
  private readonly repeats: RepeatedLines;
  /** Keys the short names logged for unknown user names: stable for this process, useless to anyone testing guesses against the log. */
  private readonly logKey = randomBytes(32);

  constructor(private readonly opts: AuthGateOptions) {
    this.ledger = new GuessLedger(opts.limits.failedLoginWindowMs, opts.now, opts.timers !== undefined ? { timers: opts.timers } : {});
    this.known = new KnownLogins(opts.now);
    this.checks = opts.checks ?? new CheckQueue();
    this.repeats = new RepeatedLines(opts.logger, opts.timers ?? systemClock);
  }

  /**
   * An account login: resolves with the account, or rejects with IW_ERR_AUTH_RATE_LIMITED (not
   * checked: over a limit), IW_ERR_AUTH_BUSY (not checked: the check queue is full) or
   * IW_ERR_AUTH_FAILED.
   */
  async login(a: LoginAttempt): Promise<Account> {
    const target = a.user ?? '';
    const { claim, known } = await this.claim(a, target);
    const account = this.opts.accounts().find((b) => b.name === a.user);
    if (a.token !== undefined && a.token !== '') {
      // A login token stands for the password it was issued for: valid, and this user's. It is
      // counted like any guess (above) but needs no password check.
      const owner = this.opts.loginTokens?.get(a.token);
      if (account === undefined || owner !== account.name) {
        claim.fail();
        this.refused(a, 'IW_ERR_AUTH_FAILED');
      }
      claim.succeed();
      return account;
    }
    let ok: boolean;
    try {
      // verifyPasswordFor spends the same time on an unknown user (no user enumeration by timing)
      ok = await this.checks.run(a.addr, known, () => verifyPasswordFor(a.password ?? '', account?.passwordHash));
    } catch (err) {
      claim.withdraw();
      if (err instanceof IcewireError && err.code === 'IW_ERR_AUTH_BUSY') this.refused(a, err.code, { waiting: this.checks.waiting }, CHECKS_RETRY_AFTER_S);
      throw err;
    }
    if (!ok || account === undefined) {
      claim.fail();
      this.refused(a, 'IW_ERR_AUTH_FAILED');
    }
    claim.succeed();
    return account;
  }

  /**
   * Passthrough mode: the client's password goes to Icecast for `target` (the Icecast mount).
   * Counted now (or once the guesses being judged from its address leave room); rejects with
   * IW_ERR_AUTH_RATE_LIMITED when over a limit.
   */
  async upstreamGuess(a: Pick<LoginAttempt, 'door' | 'addr' | 'user'> & { readonly target: string }): Promise<UpstreamGuess> {
    const { claim } = await this.claim(a, a.target);
    return {
      accepted: () => claim.succeed(),
      refused: () => {
        claim.fail();
        this.log(a, 'login refused by Icecast', 'IW_ERR_ICECAST_AUTH');
      },
      withdrawn: () => claim.withdraw(),
    };
  }

  /**
   * A secret that is not a password was refused (a guest's invitation link nobody issued): a
   * failed guess all the same, counted against the address (not an account: that would let one
   * guesser lock every guest out). Throws `code`, or IW_ERR_AUTH_RATE_LIMITED over the limit.
   */
  secretRefused(a: Pick<LoginAttempt, 'door' | 'addr'>, code: ErrorCode): never {
    this.admit(a);
    this.ledger.fail(this.ledger.add(addressKey(a.addr), ''));
    this.refused({ ...a, user: undefined }, code);
  }

  /** Before a secret that is not a password is looked at: refuse an address over its limit (by failures; checks still running don't count here). */
  admit(a: Pick<LoginAttempt, 'door' | 'addr'>): void {
    const key = addressKey(a.addr);
    if (this.ledger.failures(key) >= this.opts.limits.maxFailedLogins) {
      this.refused({ ...a, user: undefined }, 'IW_ERR_AUTH_RATE_LIMITED', { limit: 'address' }, Math.ceil(this.ledger.msUntilFailureExpires(key) / 1000));
    }
  }

  /**
   * Before a login's body is read: refuse an address over its failure limit from which no account
   * has logged in lately (nothing in the body could let it in: the name matters only to a known
   * pair). A flood's refusals then cost no body parsing.
   */
  refuseEarly(a: Pick<LoginAttempt, 'door' | 'addr'>): void {
    if (!this.known.anyAt(a.addr)) this.admit(a);
  }

  /** A user name as the log may show it: as typed when it is one we know, else a short keyed hash. */
  logName(user: string | undefined): string | undefined {
    if (user === undefined) return undefined;
    if (user === this.opts.icecastUser || this.opts.accounts().some((b) => b.name === user)) return user;
    return `#${createHmac('sha256', this.logKey).update(user).digest('base64url').slice(0, 10)}`;
  }

  /**
   * Count a guess at `target` from `a.addr` under every limit it falls under, or refuse it. Over a
   * limit by failures: refused at once. Its allowance filled only by guesses still being checked:
   * it waits for one of them to be settled (a success frees its place), at most
   * LOGIN_WAIT_MS, in a bounded line (guess-ledger.ts); refused when the line is full or the wait
   * ends.
   */
  private async claim(a: Pick<LoginAttempt, 'door' | 'addr' | 'user'>, target: string): Promise<{ claim: Claim; known: boolean }> {
    const { maxFailedLogins, maxFailedLoginsPerAccount } = this.opts.limits;
    let timedOut = false;
    for (;;) {
      // looked up again after a wait: a success meanwhile may have made the pair known
      const known = this.known.has(target, a.addr);
      const limits: [Limit, string, string, number][] = known
        ? [['pair', pairLedgerKey(target, a.addr), '', maxFailedLogins]]
        : [['address', addressKey(a.addr), target, maxFailedLogins], ['account', accountKey(target), a.addr, maxFailedLoginsPerAccount]];
      const full: string[] = [];
      for (const [limit, key, , max] of limits) {
        if (this.ledger.failures(key) >= max) this.refused(a, 'IW_ERR_AUTH_RATE_LIMITED', { limit }, Math.ceil(this.ledger.msUntilFailureExpires(key) / 1000));
        if (this.ledger.count(key) >= max) full.push(key);
      }
      if (full.length === 0) {
        const counted = limits.map(([, key, tag]) => [key, this.ledger.add(key, tag)] as const);
        return { claim: new Claim(this.ledger, this.known, target, a.addr, counted), known };
      }
      const limit = limits.find(([, key]) => key === full[0])![0];
      if (timedOut || !this.ledger.canWait(full)) {
        this.refused(a, 'IW_ERR_AUTH_RATE_LIMITED', { limit, waiting: this.ledger.waiting, ...(timedOut ? { waitedMs: LOGIN_WAIT_MS } : {}) }, CHECKS_RETRY_AFTER_S);
      }
      timedOut = !(await this.ledger.whenSettled(full, LOGIN_WAIT_MS));
    }
  }

  private refused(a: Pick<LoginAttempt, 'door' | 'addr' | 'user'>, code: ErrorCode, extra: Record<string, unknown> = {}, retryAfterS?: number): never {
    this.log(a, 'login refused', code, extra);
    // an expected answer, never logged with a stack: a flood makes thousands, so none is captured
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      throw new IcewireError(code, retryAfterS !== undefined ? { retryAfterS: Math.max(1, retryAfterS) } : {});
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  /**
   * The one refusal line, for every door. A refusal that checked no password (over a limit, the
   * queue full) can come by the thousand from one address: the first of each door, code and
   * address is logged, the rest within REPEAT_LOG_MS only counted, then logged as one line.
   */
  private log(a: Pick<LoginAttempt, 'door' | 'addr' | 'user'>, what: string, code: ErrorCode, extra: Record<string, unknown> = {}): void {
    if ((code === 'IW_ERR_AUTH_RATE_LIMITED' || code === 'IW_ERR_AUTH_BUSY') && this.repeats.seen(`${a.door} ${code} ${a.addr}`, { door: a.door, code, addr: a.addr })) return;
    this.opts.logger.info(what, { door: a.door, code, addr: a.addr, user: this.logName(a.user), ...extra });
  }
}
