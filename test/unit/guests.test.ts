// Guests' pure parts: the invitation book (single use, expiry, withdrawal, rejoin secrets, limits),
// the signalling parser (bounds, who may send what, nothing extra relayed) and the TURN
// credentials (coturn's REST scheme).
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { InvitationBook } from '../../server/guests/invitation-book.js';
import { parseGuestMessage, parseHostMessage, parseSignalHello } from '../../server/guests/signal-protocol.js';
import { iceConfigFor, turnCredentials } from '../../server/guests/ice-servers.js';
import { IcewireError } from '../../server/errors.js';
import { parseConfig } from '../../server/config/load.js';

const code = (err: unknown): string => (err instanceof IcewireError ? err.code : String(err));

describe('guests: the invitation book', () => {
  let now = Date.parse('2026-11-29T14:00:00Z');
  const limits = { maxGuests: 2, maxInvitations: 3, invitationTtlMs: 60_000 };
  const book = (): InvitationBook => new InvitationBook({ limits: () => limits, now: () => now });

  it('a link lets one guest in once; the same token again is "used"; only the rejoin secret brings them back', () => {
    const b = book();
    const made = b.create('live', 'alice', 'Sam');
    assert.ok(!('code' in made));
    const { token, invitation } = made;
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(!JSON.stringify([...(b as unknown as { byId: Map<string, unknown> }).byId.values()]).includes(token), 'only the token\'s hash is kept');
    const first = b.redeem('live', token, undefined, '  Sam Guest ');
    assert.ok(first.ok && first.first);
    assert.equal(first.invitation.guestName, 'Sam Guest');
    assert.deepEqual(b.redeem('live', token, undefined, 'Mallory'), { ok: false, code: 'IW_ERR_GUEST_TOKEN_USED' });
    assert.deepEqual(b.redeem('live', token, 'made-up', 'Mallory'), { ok: false, code: 'IW_ERR_GUEST_TOKEN_USED' });
    const back = b.redeem('live', token, first.rejoin, 'Sam Guest');
    assert.ok(back.ok && !back.first && back.invitation.id === invitation.id);
    // the old secret is spent: a copy from a page that is gone opens nothing
    assert.deepEqual(b.redeem('live', token, first.rejoin, 'Sam'), { ok: false, code: 'IW_ERR_GUEST_TOKEN_USED' });
  });

  it('expired, withdrawn, unknown, other show: each its own code', () => {
    const b = book();
    const a = b.create('live', 'alice', '') as { token: string; invitation: { id: string } };
    const w = b.create('live', 'alice', '') as { token: string; invitation: { id: string } };
    assert.deepEqual(b.redeem('other', a.token, undefined, 'x'), { ok: false, code: 'IW_ERR_GUEST_OTHER_SHOW' });
    assert.deepEqual(b.redeem('live', 'A'.repeat(43), undefined, 'x'), { ok: false, code: 'IW_ERR_GUEST_TOKEN_UNKNOWN' });
    assert.equal(b.withdraw('live', 'bob', w.invitation.id), undefined, 'only its host withdraws a link');
    assert.ok(b.withdraw('live', 'alice', w.invitation.id));
    assert.deepEqual(b.redeem('live', w.token, undefined, 'x'), { ok: false, code: 'IW_ERR_GUEST_TOKEN_REVOKED' });
    now += 60_000;
    assert.deepEqual(b.redeem('live', a.token, undefined, 'x'), { ok: false, code: 'IW_ERR_GUEST_TOKEN_EXPIRED' });
  });

  it('a guest who left, was removed, or stayed away too long cannot come back with the link', () => {
    const b = book();
    const codes = (['left', 'removed', 'lost'] as const).map((why) => {
      const m = b.create('live', 'alice', '') as { token: string };
      const r = b.redeem('live', m.token, undefined, 'x');
      assert.ok(r.ok);
      b.end(r.invitation, why);
      const again = b.redeem('live', m.token, r.rejoin, 'x');
      return again.ok ? 'ok' : again.code;
    });
    assert.deepEqual(codes, ['IW_ERR_GUEST_TOKEN_USED', 'IW_ERR_GUEST_REMOVED', 'IW_ERR_GUEST_AWAY_TOO_LONG']);
  });

  it('bounded: maxInvitations open links per host and station, maxGuests joined guests', () => {
    const b = book();
    const links = [0, 1, 2].map(() => b.create('live', 'alice', '') as { token: string });
    assert.deepEqual(b.create('live', 'alice', ''), { code: 'IW_ERR_GUEST_INVITATIONS_LIMIT' });
    assert.ok(!('code' in b.create('live', 'bob', '')), 'another host has their own allowance');
    assert.ok(b.redeem('live', links[0]!.token, undefined, 'a').ok);
    assert.ok(b.redeem('live', links[1]!.token, undefined, 'b').ok);
    assert.deepEqual(b.redeem('live', links[2]!.token, undefined, 'c'), { ok: false, code: 'IW_ERR_GUEST_FULL' });
    assert.equal(b.list('live', 'alice').filter((i) => i.state === 'joined').length, 2);
  });
});

describe('guests: the signalling parser', () => {
  it('refuses frames over 32 KiB, non-JSON, and a hello that is not one', () => {
    assert.throws(() => parseSignalHello('x'.repeat(33 * 1024)), (e) => code(e) === 'IW_ERR_SIGNAL_BAD_MESSAGE');
    assert.throws(() => parseSignalHello('{not json'), (e) => code(e) === 'IW_ERR_SIGNAL_BAD_MESSAGE');
    assert.throws(() => parseSignalHello(JSON.stringify({ type: 'signal', data: {} })), (e) => code(e) === 'IW_ERR_SIGNAL_BAD_MESSAGE');
    assert.throws(() => parseSignalHello(JSON.stringify({ type: 'hello', data: { role: 'guest', invitation: 't', name: 'x', instance: 'bad id!' } })), (e) => code(e) === 'IW_ERR_SIGNAL_BAD_MESSAGE');
    const h = parseSignalHello(JSON.stringify({ type: 'hello', data: { role: 'guest', invitation: 't', name: 'Sam', instance: 'abc' } }));
    assert.equal(h.role, 'guest');
  });

  it('hosts offer and guests answer, never the other way round; unknown types are ignored', () => {
    const offer = { type: 'signal', data: { guest: 'g1', description: { type: 'offer', sdp: 'v=0' } } };
    assert.equal(parseHostMessage(JSON.stringify(offer)).type, 'signal');
    assert.throws(() => parseGuestMessage(JSON.stringify({ type: 'signal', data: { description: { type: 'offer', sdp: 'v=0' } } })), (e) => code(e) === 'IW_ERR_SIGNAL_BAD_MESSAGE');
    assert.throws(() => parseHostMessage(JSON.stringify({ type: 'signal', data: { guest: 'g1', description: { type: 'answer', sdp: 'v=0' } } })), (e) => code(e) === 'IW_ERR_SIGNAL_BAD_MESSAGE');
    assert.deepEqual(parseGuestMessage(JSON.stringify({ type: 'future-thing', data: {} })), { type: 'unknown' });
  });

  it('relays only the fields it knows: nothing a party adds reaches the other', () => {
    const m = parseGuestMessage(JSON.stringify({
      type: 'signal',
      data: { candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0, evil: '<script>' }, extra: 1 },
    }));
    assert.deepEqual(m, { type: 'signal', signal: { candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 } } });
  });
});

describe('guests: ICE servers and TURN credentials', () => {
  it('TURN credentials follow coturn\'s use-auth-secret scheme and expire; the secret is never handed out', () => {
    const now = Date.parse('2026-11-29T14:00:00Z');
    const c = turnCredentials('s3cret', 'guest-abc', now, 3_600_000);
    assert.equal(c.username, `${Math.floor(now / 1000) + 3600}:guest-abc`);
    assert.equal(c.credential, createHmac('sha1', 's3cret').update(c.username).digest('base64'));
    const ice = iceConfigFor({
      iceServers: [{ urls: ['stun:stun.example.org:3478'], secret: undefined }, { urls: ['turn:turn.example.org:3478?transport=udp'], secret: 's3cret' }],
      iceTransportPolicy: 'all', credentialTtlMs: 3_600_000,
    }, 'host-alice', now);
    assert.deepEqual(ice.iceServers[0], { urls: ['stun:stun.example.org:3478'] });
    assert.equal(ice.iceServers[1]!.username, `${Math.floor(now / 1000) + 3600}:host-alice`);
    assert.ok(!JSON.stringify(ice).includes('s3cret'));
  });

  it('config: a TURN server without a secret, a STUN one with one, relay without TURN: each named', () => {
    const base = { icecast: { url: 'http://127.0.0.1:8000', sourcePassword: 'x' } };
    const issues = (webrtc: unknown): string[] => {
      try {
        parseConfig({ ...base, webrtc }, { env: {} });
        return [];
      } catch (err) {
        return ((err as { issues?: { path: string; message: string }[] }).issues ?? []).map((i) => `${i.path}: ${i.message}`);
      }
    };
    assert.ok(issues({ iceServers: [{ urls: ['turn:t.example.org:3478'] }] }).some((l) => /webrtc\.iceServers\.0\.secretFile/.test(l)));
    assert.ok(issues({ iceServers: [{ urls: ['stun:t.example.org:3478'], secret: 'x' }] }).some((l) => /webrtc\.iceServers\.0\.secret/.test(l)));
    assert.ok(issues({ iceTransportPolicy: 'relay' }).some((l) => /webrtc\.iceTransportPolicy/.test(l)));
    assert.ok(issues({ iceServers: [{ urls: ['http://nope'] }] }).some((l) => /urls/.test(l)));
    assert.deepEqual(issues({ iceServers: [{ urls: ['turn:t.example.org:3478?transport=udp'], secret: 'x' }] }), []);
  });
});
