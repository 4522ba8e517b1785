import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The built-in trainer is this package: its version, from the workspace's package.json. */
export function builtinCodeVersion(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      const { name, version } = JSON.parse(readFileSync(pj, 'utf8')) as { name?: string; version?: string };
      if (name === 'trainyard' && version) return `builtin@${version}`;
    }
    if (dirname(dir) === dir) return 'builtin';
  }
}

/**
 * A command trainer's code: the git commit of the folder holding its script (the first word of its
 * command line that is a file), with `-dirty` when that folder has changes; undefined outside git.
 */
export async function commandCodeVersion(words: string[], cwd = process.cwd()): Promise<string | undefined> {
  const script = words.map((w) => resolve(cwd, w)).find((p) => existsSync(p) && statSync(p).isFile());
  if (!script) return undefined;
  const dir = dirname(script);
  try {
    // One process per job, not two: the commit rides in the status output's `# branch.oid` header.
    const { stdout } = await run('git', ['-C', dir, 'status', '--porcelain=v2', '--branch', '--', '.'], { timeout: 5000 });
    const lines = stdout.split('\n').filter(Boolean);
    const head = /^# branch\.oid ([0-9a-f]{40,64})$/.exec(lines.find((l) => l.startsWith('# branch.oid ')) ?? '')?.[1];
    if (!head) return undefined;
    return `${head}${lines.some((l) => !l.startsWith('#')) ? '-dirty' : ''}`;
  } catch {
    return undefined;
  }
}
