/**
 * A throwaway PostgreSQL cluster for the harnesses that run the whole system (the chaos trials, the
 * stack bench): initdb + pg_ctl in a folder of their own, on a port of their own, never the machine's.
 */
const { spawnSync } = require('node:child_process');
const { chownSync, existsSync, mkdirSync, readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

function findPgBin() {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) throw new Error('no /usr/lib/postgresql/*/bin: install PostgreSQL server binaries');
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  if (!versions.length) throw new Error('no pg_ctl under /usr/lib/postgresql/*/bin');
  return join(base, versions[0], 'bin');
}

class OwnPostgres {
  /** `settings`: more server settings (`-c name=value`), e.g. the stack bench's pg_stat_statements. */
  constructor(dir, port, log, { settings = {} } = {}) {
    this.settings = settings;
    this.bin = findPgBin();
    this.dir = dir;
    this.data = join(dir, 'pgdata');
    this.sock = join(dir, 'pgsock');
    this.port = port;
    this.log = log;
    this.asRoot = process.getuid && process.getuid() === 0;
  }

  get url() {
    return `postgres://postgres@127.0.0.1:${this.port}/trainyard`;
  }

  run(cmd, args) {
    // PostgreSQL refuses to run as root: as root, run its tools as the postgres user.
    const full = this.asRoot ? ['runuser', ['-u', 'postgres', '--', join(this.bin, cmd), ...args]] : [join(this.bin, cmd), args];
    const r = spawnSync(full[0], full[1], { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  async init() {
    mkdirSync(this.sock, { recursive: true });
    if (this.asRoot) {
      const { uid, gid } = userIds('postgres');
      chownSync(this.dir, uid, gid);
      chownSync(this.sock, uid, gid);
    }
    this.run('initdb', ['-D', this.data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    await this.start();
    this.run('createdb', ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', 'trainyard']);
  }

  async start() {
    const extra = Object.entries(this.settings).map(([name, value]) => ` -c ${name}=${value}`);
    const opts = `-p ${this.port} -k ${this.sock} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c full_page_writes=off${extra.join('')}`;
    this.run('pg_ctl', ['-D', this.data, '-l', join(this.dir, 'postgres.log'), '-o', opts, '-w', '-t', '60', 'start']);
  }

  /** One SQL statement through psql in the cluster's database; its rows as `|`-separated lines. */
  sql(statement) {
    return this.run('psql', ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', '-d', 'trainyard', '-AtX', '-c', statement]);
  }

  /** The fault: an immediate shutdown (no checkpoint, crash recovery at start), then a start. */
  async restartImmediate() {
    this.run('pg_ctl', ['-D', this.data, '-m', 'immediate', '-w', '-t', '60', 'stop']);
    await this.start();
  }

  stop() {
    try {
      this.run('pg_ctl', ['-D', this.data, '-m', 'immediate', '-w', '-t', '30', 'stop']);
    } catch (e) {
      this.log(`pg stop: ${e.message}`);
    }
  }
}

function userIds(name) {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no user ${name}`);
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

module.exports = { OwnPostgres };
