// A login token (POST /api/login) presented in place of the password: what a reloaded broadcaster
// page does, since it never keeps the password (server/auth/auth-gate.ts, www/src/session.ts).
import assert from 'node:assert/strict';
import { AuthGate } from '../../server/auth/auth-gate.js';
import { IcewireError } from '../../server/errors.js';
import { SessionStore } from '../../server/http/recordings-routes.js';
import { hashPassword } from '../../server/auth/password-hash.js';
import { createLogger } from '../../server/log.js';

describe('login tokens in place of the password (auth gate)', () => {
  async function gate() {
    const sessions = new SessionStore();
    const accounts = [
      { name: 'alice', passwordHash: await hashPassword('alice-pw'), mounts: ['live'] },
      { name: 'bob', passwordHash: await hashPassword('bob-pw'), mounts: ['other'] },
    ];
    const g = new AuthGate({
      accounts: () => accounts as never,
      limits: { maxFailedLogins: 3, maxFailedLoginsPerAccount: 50, failedLoginWindowMs: 60_000 },
      logger: createLogger({ level: 'error', json: true, console: false }),
      loginTokens: sessions,
    });
    return { g, sessions };
  }
  const code = (err: unknown): string => (err instanceof IcewireError ? err.code : String(err));

  it('a valid token of this user logs in without the password', async () => {
    const { g, sessions } = await gate();
    const { token } = sessions.create('alice');
    const account = await g.login({ door: 'websocket', addr: '10.0.0.1', user: 'alice', password: '', token });
    assert.equal(account.name, 'alice');
  });

  it('another user\'s token, an unknown or revoked token: refused, and counted as a failed login', async () => {
    const { g, sessions } = await gate();
    const bobs = sessions.create('bob').token;
    await assert.rejects(g.login({ door: 'websocket', addr: '10.0.0.2', user: 'alice', password: '', token: bobs }), (e) => code(e) === 'IW_ERR_AUTH_FAILED');
    await assert.rejects(g.login({ door: 'websocket', addr: '10.0.0.2', user: 'alice', password: '', token: 'made-up' }), (e) => code(e) === 'IW_ERR_AUTH_FAILED');
    const alices = sessions.create('alice').token;
    sessions.delete(alices);
    await assert.rejects(g.login({ door: 'websocket', addr: '10.0.0.2', user: 'alice', password: '', token: alices }), (e) => code(e) === 'IW_ERR_AUTH_FAILED');
    // Three failures: this address is now limited, even with a good token.
    const fresh = sessions.create('alice').token;
    await assert.rejects(g.login({ door: 'websocket', addr: '10.0.0.2', user: 'alice', password: '', token: fresh }), (e) => code(e) === 'IW_ERR_AUTH_RATE_LIMITED');
  });

  it('a token never stands in for a wrong password: with no token the password is checked', async () => {
    const { g } = await gate();
    await assert.rejects(g.login({ door: 'websocket', addr: '10.0.0.3', user: 'alice', password: 'wrong' }), (e) => code(e) === 'IW_ERR_AUTH_FAILED');
    assert.equal((await g.login({ door: 'websocket', addr: '10.0.0.3', user: 'alice', password: 'alice-pw' })).name, 'alice');
  });
});
