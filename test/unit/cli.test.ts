// --listen parsing: HOST:PORT, :PORT, PORT and [IPv6]:PORT; anything else is a commander
// InvalidArgumentError (so commander prints it with the usage, not a stack trace).
import assert from 'node:assert/strict';
import { InvalidArgumentError } from 'commander';
import { parseListen } from '../../server/cli.js';

describe('parseListen', () => {
  const accepted: { value: string; want: { host: string; port: number } }[] = [
    { value: '127.0.0.1:8080', want: { host: '127.0.0.1', port: 8080 } },
    { value: ':8080', want: { host: '127.0.0.1', port: 8080 } },
    { value: '8080', want: { host: '127.0.0.1', port: 8080 } },
    { value: '[::1]:9000', want: { host: '::1', port: 9000 } },
    { value: '[::]:80', want: { host: '::', port: 80 } },
    { value: '0.0.0.0:0', want: { host: '0.0.0.0', port: 0 } },
    { value: 'localhost:65535', want: { host: 'localhost', port: 65535 } },
    { value: 'radio.example.org:1', want: { host: 'radio.example.org', port: 1 } },
    { value: '0', want: { host: '127.0.0.1', port: 0 } },
  ];
  for (const r of accepted) {
    it(`accepts ${JSON.stringify(r.value)} as ${r.want.host} port ${r.want.port}`, () => {
      assert.deepEqual(parseListen(r.value), r.want);
    });
  }

  const rejected: { what: string; value: string }[] = [
    { what: 'a word', value: 'x' },
    { what: 'a port above 65535', value: 'host:99999' },
    { what: 'a bare port above 65535', value: '65536' },
    { what: 'a missing port', value: 'host:' },
    { what: 'the empty string', value: '' },
    { what: 'a lone colon', value: ':' },
    { what: 'an unbracketed IPv6 address', value: '::1:9000' },
    { what: 'a negative port', value: 'host:-1' },
    { what: 'a non-numeric port', value: 'host:http' },
    { what: 'a URL', value: 'http://127.0.0.1:8080' },
    { what: 'a trailing space', value: '127.0.0.1:8080 ' },
    { what: 'brackets without a port', value: '[::1]' },
  ];
  for (const r of rejected) {
    it(`rejects ${r.what} (${JSON.stringify(r.value)})`, () => {
      assert.throws(() => parseListen(r.value), (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError, `threw ${String(err)}`);
        assert.equal(err.code, 'commander.invalidArgument');
        return true;
      });
    });
  }
});
