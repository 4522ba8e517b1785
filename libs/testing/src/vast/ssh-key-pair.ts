import { utils } from 'ssh2';

/** An ed25519 pair a client can use. ssh2 makes one it cannot read back about once in 250 tries ("Malformed OpenSSH private key": a public key with a leading zero byte, written one byte short): draw again. */
export function ed25519KeyPair(): { private: string; public: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair;
  }
}
