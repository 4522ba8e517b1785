import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { BatchedCalls } from '@trainyard/runtime';
import { folderFingerprint, gitDirs } from './folder-fingerprint';

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
 * Command trainers' code: the git commit of the folder holding the script, with `-dirty` when that
 * folder has changes; undefined outside git. The script is the first later word of the command line
 * that is a file (`/srv/venv/bin/python train.py`: train.py, not the interpreter), or the program
 * itself when none is (`./train.sh`).
 *
 * A job's answer comes from a look begun after it asked, so an edit made before its start is seen;
 * but git is started only when the folder's fingerprint changed since git last answered (a fork
 * costs more than a no-op job: about 10 ms of CPU on a 2-core VM), and the jobs that ask while one
 * look is on its way share the next.
 */
export class CodeVersions {
  private readonly asks: BatchedCalls<string, string | undefined>;
  /** Each folder's last answer from git, with the fingerprint taken before git was asked. */
  private readonly last = new Map<string, { fingerprint: string; version: string | undefined }>();

  constructor(
    private readonly cwd = process.cwd(),
    private readonly git: Git = runGit,
    private readonly now: () => number = Date.now,
  ) {
    this.asks = new BatchedCalls(async (dirs) => {
      const versions = new Map(await Promise.all([...new Set(dirs)].map(async (dir) => [dir, await this.folderVersion(dir)] as const)));
      return dirs.map((dir) => versions.get(dir));
    });
  }

  of(words: string[]): Promise<string | undefined> {
    const dir = scriptFolder(words, this.cwd);
    return dir ? this.asks.call(dir) : Promise.resolve(undefined);
  }

  /** git's answer, or its last one while nothing it depends on has changed since. */
  private async folderVersion(dir: string): Promise<string | undefined> {
    const repo = gitDirs(dir);
    // Outside a repository git can only fail, and forking the agent to hear it cost more than a no-op job (/bin/echo).
    if (!repo) return undefined;
    const fingerprint = folderFingerprint(dir, repo, this.now());
    const last = this.last.get(dir);
    if (fingerprint !== null && last?.fingerprint === fingerprint) return last.version;
    const version = await askGit(dir, this.git);
    if (fingerprint === null) this.last.delete(dir);
    else this.last.set(dir, { fingerprint, version });
    return version;
  }
}

/** The folder of the command line's script. */
function scriptFolder(words: string[], cwd: string): string | undefined {
  const isFile = (p: string) => existsSync(p) && statSync(p).isFile();
  const script = [...words.slice(1), ...words.slice(0, 1)].map((w) => resolve(cwd, w)).find(isFile);
  return script ? dirname(script) : undefined;
}

async function askGit(dir: string, git: Git): Promise<string | undefined> {
  try {
    // One process, not two: the commit rides in the status output's `# branch.oid` header.
    const stdout = await git(['-C', dir, 'status', '--porcelain=v2', '--branch', '--', '.']);
    const lines = stdout.split('\n').filter(Boolean);
    const head = /^# branch\.oid ([0-9a-f]{40,64})$/.exec(lines.find((l) => l.startsWith('# branch.oid ')) ?? '')?.[1];
    if (!head) return undefined;
    return `${head}${lines.some((l) => !l.startsWith('#')) ? '-dirty' : ''}`;
  } catch {
    return undefined;
  }
}
