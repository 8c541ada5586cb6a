// Runs after every other test file (last in .mocharc's spec list): no secret the suite used may
// appear in any log line (ours or Icecast's, whose access log records every URL) or in any
// process's argv seen while broadcasts were live.
import assert from 'node:assert/strict';
import { ALL_LOG_LINES, ALL_SECRETS, PS_SNAPSHOTS, snapshotPs } from '../helpers/stack.js';

describe('secrets never leak (whole suite)', () => {
  before(() => snapshotPs());

  it('collected what it needs to judge', function () {
    if (ALL_SECRETS.size === 0) this.skip(); // run alone: nothing to check
    assert.ok(ALL_LOG_LINES.length > 50, `${ALL_LOG_LINES.length} log lines collected`);
    assert.ok(PS_SNAPSHOTS.length >= 2, `${PS_SNAPSHOTS.length} ps snapshots`);
  });

  it('no source or broadcaster password in any log line or URL', () => {
    for (const s of ALL_SECRETS) {
      const hit = ALL_LOG_LINES.find((l) => l.includes(s));
      assert.equal(hit, undefined, `a secret appears in: ${hit?.replace(s, '<SECRET>')}`);
    }
  });

  it('no secret in any process argv', () => {
    for (const s of ALL_SECRETS) {
      for (const snap of PS_SNAPSHOTS) assert.ok(!snap.includes(s), 'a secret appears in a process argv');
    }
  });
});
