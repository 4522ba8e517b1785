import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { utils } from 'ssh2';

export interface SshKeyPair {
  privateKey: Buffer;
  /** `ssh-ed25519 AAAA… trainyard-broker`, as Vast's key routes take it. */
  publicKey: string;
}

/** The broker's SSH identity: read from `path`, or created there (mode 600) on first use. */
export function loadOrCreateSshKey(path: string): SshKeyPair {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    const pair = usablePair();
    writeFileSync(path, pair.private, { mode: 0o600 });
    writeFileSync(`${path}.pub`, `${pair.public}\n`);
    chmodSync(path, 0o600);
  }
  const privateKey = readFileSync(path);
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new Error(`${path} is not a usable SSH private key: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return { privateKey, publicKey: `${key.type} ${key.getPublicSSH().toString('base64')} trainyard-broker` };
}

/** ssh2 makes an ed25519 pair it cannot read back about once in 400 tries ("Malformed OpenSSH private key"): draw again. */
function usablePair(): { private: string; public: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519', { comment: 'trainyard-broker' });
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair;
  }
}
