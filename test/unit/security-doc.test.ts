// Keeps docs/security.md in step with what it describes: every `limits.*` key of the config
// schema has a row with its default, and every directive in its nginx block is in the shipped
// nginx/icewire.conf (which test/ops/nginx-tls.test.ts runs in a real nginx).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { configSchemas } from '../../server/config/schema.js';

const { configSchema } = configSchemas(z);

const DOC = readFileSync(fileURLToPath(new URL('../../../docs/security.md', import.meta.url)), 'utf8');
const NGINX = readFileSync(fileURLToPath(new URL('../../../nginx/icewire.conf', import.meta.url)), 'utf8');

describe('docs/security.md', () => {
  it('has a row for every limits.* key, with the schema\'s default', () => {
    const defaults = configSchema.parse({}).limits as Record<string, number>;
    for (const [key, value] of Object.entries(defaults)) {
      assert.match(DOC, new RegExp(`^\\| \`limits\\.${key}\` \\| \`${value}\``, 'm'), `limits.${key} (default ${value})`);
    }
  });

  it('shows only nginx directives that nginx/icewire.conf has', () => {
    const block = /```nginx\n([\s\S]*?)```/.exec(DOC)?.[1];
    assert.ok(block !== undefined, 'an nginx block');
    const shipped = new Set(NGINX.split('\n').map((l) => l.trim().replace(/\s+/g, ' ')).filter((l) => l !== '' && !l.startsWith('#')));
    const lines = block.split('\n').map((l) => l.trim().replace(/\s+/g, ' ')).filter((l) => l !== '' && !l.startsWith('#'));
    assert.ok(lines.length >= 8);
    assert.deepEqual(lines.filter((l) => !shipped.has(l)), []);
  });
});
