import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** git with these arguments, to its standard output; a parameter so that specs see whether it ran. */
export type Git = (args: string[]) => Promise<string>;
const runGit: Git = async (args) => (await run('git', args, { timeout: 5000 })).stdout;

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
export async function commandCodeVersion(words: string[], cwd = process.cwd(), git: Git = runGit): Promise<string | undefined> {
  const script = words.map((w) => resolve(cwd, w)).find((p) => existsSync(p) && statSync(p).isFile());
  if (!script) return undefined;
  const dir = dirname(script);
  // Outside a repository git can only fail, and forking the agent to hear it cost more than a no-op job (/bin/echo).
  if (!inGitWorkTree(dir)) return undefined;
  try {
    // One process per job, not two: the commit rides in the status output's `# branch.oid` header.
    const stdout = await git(['-C', dir, 'status', '--porcelain=v2', '--branch', '--', '.']);
    const lines = stdout.split('\n').filter(Boolean);
    const head = /^# branch\.oid ([0-9a-f]{40,64})$/.exec(lines.find((l) => l.startsWith('# branch.oid ')) ?? '')?.[1];
    if (!head) return undefined;
    return `${head}${lines.some((l) => !l.startsWith('#')) ? '-dirty' : ''}`;
  } catch {
    return undefined;
  }
}

/** Whether `dir` or a folder above it holds `.git`: a directory, or the file a worktree or submodule points with. */
function inGitWorkTree(dir: string): boolean {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, '.git'))) return true;
    if (dirname(at) === at) return false;
  }
}
