import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseFlags } from '@trainyard/run-flags';
import { natsServerConfig, newRoleCredentials } from '@trainyard/messaging';
import { UsageError } from './usage-error';
import { NATS_CONFIG_HELP } from './help';

const OPTIONS = { out: { type: 'string' }, prefix: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, store: { type: 'string' } } as const;

/** Writes a NATS server configuration with least-privilege roles and the credentials of each; returns the files. */
export function natsConfigCommand(argv: string[]): string[] {
  const { values: v } = parseFlags(argv, OPTIONS);
  if (typeof v.out !== 'string') throw new UsageError(`--out DIR is required\n\n${NATS_CONFIG_HELP}`);
  const prefix = typeof v.prefix === 'string' ? v.prefix : 'trainyard';
  if (!/^[a-z][a-z0-9_-]{0,30}$/.test(prefix)) throw new UsageError('--prefix: lower-case letters, digits, "_" or "-" (as TRAINYARD_PREFIX)');
  const port = v.port === undefined ? 4222 : Number(v.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port must be a port number (got "${String(v.port)}")`);
  const out = resolve(v.out);
  if (existsSync(join(out, 'nats.conf'))) throw new UsageError(`${join(out, 'nats.conf')} exists; new credentials would lock out the clients that hold the old ones`);
  mkdirSync(out, { recursive: true, mode: 0o700 });
  const credentials = newRoleCredentials();
  const conf = join(out, 'nats.conf');
  const files = [conf];
  writeFileSync(conf, natsServerConfig({ prefix, credentials, host: typeof v.host === 'string' ? v.host : '0.0.0.0', port, storeDir: typeof v.store === 'string' ? v.store : '/var/lib/nats' }), {
    mode: 0o600,
  });
  for (const c of credentials) {
    const file = join(out, `${c.role}.env`);
    writeFileSync(file, `# The ${c.role} role on the bus of prefix ${prefix}.\nNATS_NKEY_SEED=${c.seed}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    files.push(file);
  }
  return files;
}
