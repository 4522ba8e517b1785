import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { utils } from 'ssh2';
import { loadOrCreateSshKey } from './ssh-key';

describe('loadOrCreateSshKey', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ssh-key-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the key once (mode 600, with its .pub) and reads the same one back after', () => {
    const path = join(dir, 'once', 'id_ed25519');
    const made = loadOrCreateSshKey(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(made.publicKey).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+ trainyard-broker$/);
    expect(readFileSync(`${path}.pub`, 'utf8').trim().split(' ').slice(0, 2)).toEqual(made.publicKey.split(' ').slice(0, 2));
    const again = loadOrCreateSshKey(path);
    expect(again.privateKey.equals(made.privateKey)).toBe(true);
    expect(again.publicKey).toBe(made.publicKey);
  });

  // ssh2 alone writes about one key in 250 that it cannot parse; 600 fresh keys meet one nine times in ten.
  it('every key it creates is one an SSH client can load', () => {
    for (let i = 0; i < 600; i++) {
      const { privateKey } = loadOrCreateSshKey(join(dir, 'many', String(i)));
      expect(utils.parseKey(privateKey)).not.toBeInstanceOf(Error);
    }
  });

  it('names the file when what is there is not a key', () => {
    const path = join(dir, 'garbage');
    writeFileSync(path, 'not a key');
    expect(() => loadOrCreateSshKey(path)).toThrow(`${path} is not a usable SSH private key`);
  });
});
