import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** More entries than this in a trainer's folder and git is asked every time: a walk would block the agent. */
const MAX_ENTRIES = 500;
/** A file changed this recently may change again within the same timestamp, unseen (git's "racy clean"). */
const RACY_MS = 2000;

/** Where a work tree's repository lives: `.git` itself, or what a worktree's or submodule's `.git` file names. */
export interface GitDirs {
  /** The work tree's root: the folder holding `.git`. */
  root: string;
  /** HEAD and the index. */
  gitDir: string;
  /** Refs, packed-refs, config and info/exclude, shared by a repository's worktrees. */
  commonDir: string;
}

/** The repository `dir` is in, read from the files git keeps; undefined outside one (or one whose `.git` cannot be read). */
export function gitDirs(dir: string): GitDirs | undefined {
  try {
    return findGitDirs(dir);
  } catch {
    return undefined;
  }
}

function findGitDirs(dir: string): GitDirs | undefined {
  for (let at = dir; ; at = dirname(at)) {
    const dotGit = join(at, '.git');
    if (existsSync(dotGit)) {
      if (statSync(dotGit).isDirectory()) return { root: at, gitDir: dotGit, commonDir: dotGit };
      const named = /^gitdir: (.+)$/m.exec(readFileSync(dotGit, 'utf8'))?.[1]?.trim();
      if (!named) return undefined;
      const gitDir = resolve(at, named);
      const common = join(gitDir, 'commondir');
      return { root: at, gitDir, commonDir: existsSync(common) ? resolve(gitDir, readFileSync(common, 'utf8').trim()) : gitDir };
    }
    if (dirname(at) === at) return undefined;
  }
}

/**
 * What `git status` of `dir` depends on, read without starting git: the folder's files (every
 * entry's size, times and inode, ignored ones too), HEAD and the ref it names, the index, the
 * repository's config and ignore rules. An equal fingerprint means git would answer as it did; null
 * when it cannot be trusted to: a folder too large to walk, or something changed in the last two
 * seconds, since a second change within the same timestamp would leave it equal.
 */
export function folderFingerprint(dir: string, git: GitDirs, now = Date.now()): string | null {
  try {
    return readFingerprint(dir, git, now);
  } catch {
    // Unreadable (a worktree whose repository moved, a file gone mid-walk): git is asked, and answers for itself.
    return null;
  }
}

function readFingerprint(dir: string, git: GitDirs, now: number): string | null {
  const parts: string[] = [];
  let racy = false;
  const add = (label: string, path: string) => {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (!st) return void parts.push(`${label} -`);
    if (Number(st.mtimeMs) > now - RACY_MS || Number(st.ctimeMs) > now - RACY_MS) racy = true;
    parts.push(`${label} ${st.mode} ${st.size} ${st.mtimeNs} ${st.ctimeNs} ${st.ino}`);
  };
  const head = readFileSync(join(git.gitDir, 'HEAD'), 'utf8').trim();
  parts.push(`HEAD ${head}`);
  const ref = /^ref: (refs\/\S+)$/.exec(head)?.[1];
  if (ref) add(ref, join(git.commonDir, ref));
  add('packed-refs', join(git.commonDir, 'packed-refs'));
  add('index', join(git.gitDir, 'index'));
  add('config', join(git.commonDir, 'config'));
  add('exclude', join(git.commonDir, 'info', 'exclude'));
  for (let at = dir; at !== git.root && dirname(at) !== at;) {
    at = dirname(at);
    add(`ignore ${at}`, join(at, '.gitignore'));
  }
  const folders = [dir];
  let entries = 0;
  while (folders.length) {
    const folder = folders.pop()!;
    add(folder, folder);
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.name === '.git') continue;
      if (++entries > MAX_ENTRIES) return null;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) folders.push(path);
      else add(path, path);
    }
  }
  return racy ? null : parts.join('\n');
}
