import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@trainyard/testing';
import { builtinCodeVersion, CodeVersions, type Git } from './code-version';

const commandCodeVersion = (words: string[], cwd: string, git?: Git) => new CodeVersions(cwd, git).of(words);

/** A temporary repository with train.py committed. */
function trainerRepo() {
  const repo = mkdtempSync(join(tmpdir(), 'ty-code-version-'));
  const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();
  git('init', '-q');
  writeFileSync(join(repo, 'train.py'), 'print(1)\n');
  git('add', '.');
  git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'trainer');
  return { repo, git, head: git('rev-parse', 'HEAD') };
}

describe('trainer code versions', () => {
  it("is the workspace package's version for the built-in trainer", () => {
    expect(builtinCodeVersion()).toMatch(/^builtin@\d+\.\d+\.\d+/);
  });

  it("is the git commit of a command trainer's folder, -dirty once it changes or holds a new file, and nothing outside git or before a first commit", async () => {
    const { repo, git, head } = trainerRepo();
    expect(await commandCodeVersion(['python3', 'train.py'], repo)).toBe(head);
    writeFileSync(join(repo, 'train.py'), 'print(2)\n');
    expect(await commandCodeVersion(['python3', 'train.py'], repo)).toBe(`${head}-dirty`);
    git('checkout', '-q', '--', 'train.py');
    expect(await commandCodeVersion(['python3', 'train.py'], repo)).toBe(head);
    writeFileSync(join(repo, 'notes.txt'), 'new\n');
    expect(await commandCodeVersion(['python3', 'train.py'], repo)).toBe(`${head}-dirty`);
    const empty = mkdtempSync(join(tmpdir(), 'ty-no-commit-'));
    execFileSync('git', ['-C', empty, 'init', '-q']);
    writeFileSync(join(empty, 'train.py'), '');
    expect(await commandCodeVersion(['python3', 'train.py'], empty)).toBeUndefined();
    const outside = mkdtempSync(join(tmpdir(), 'ty-no-git-'));
    writeFileSync(join(outside, 'train.py'), '');
    expect(await commandCodeVersion(['python3', 'train.py'], outside)).toBeUndefined();
    expect(await commandCodeVersion(['python3', '-c', 'print(1)'], outside)).toBeUndefined();
  });

  it('does not start git for a script outside any repository, and does in one', async () => {
    const calls: string[][] = [];
    const git: Git = async (args) => {
      calls.push(args);
      return execFileSync('git', args, { encoding: 'utf8' });
    };
    const outside = mkdtempSync(join(tmpdir(), 'ty-no-git-'));
    writeFileSync(join(outside, 'train.py'), '');
    expect(await commandCodeVersion(['python3', 'train.py'], outside, git)).toBeUndefined();
    expect(await commandCodeVersion(['/bin/echo', '{"type":"result"}'], outside, git)).toBeUndefined();
    expect(calls).toEqual([]);
    const { repo, head } = trainerRepo();
    expect(await commandCodeVersion(['python3', 'train.py'], repo, git)).toBe(head);
    expect(calls).toHaveLength(1);
  });

  it('is the commit of a linked worktree, whose .git is a file', async () => {
    const { git, head } = trainerRepo();
    const tree = join(mkdtempSync(join(tmpdir(), 'ty-worktree-')), 'tree');
    git('worktree', 'add', '-q', '--detach', tree);
    expect(await commandCodeVersion(['python3', 'train.py'], tree)).toBe(head);
  });

  it("is the script's folder when the interpreter is named by its path, as in a virtualenv", async () => {
    const { repo, head } = trainerRepo();
    expect(await commandCodeVersion([process.execPath, 'train.py'], repo)).toBe(head);
    expect(await commandCodeVersion([join(repo, 'train.py')], repo)).toBe(head);
  });

  it('asks git once for the jobs that start together, and again, after their edit, for a job that asks while it runs', async () => {
    const { repo, head } = trainerRepo();
    const calls: string[][] = [];
    let release: () => void = () => undefined;
    let hold = false;
    const git: Git = async (args) => {
      calls.push(args);
      const stdout = execFileSync('git', args, { encoding: 'utf8' });
      if (hold) await new Promise<void>((resolve) => (release = resolve));
      return stdout;
    };
    const versions = new CodeVersions(repo, git);
    expect(await Promise.all([1, 2, 3, 4, 5].map(() => versions.of(['python3', 'train.py'])))).toEqual([head, head, head, head, head]);
    expect(calls).toHaveLength(1);

    hold = true;
    const before = versions.of(['python3', 'train.py']);
    await waitFor(() => calls.length === 2, 'the second git status to start');
    hold = false;
    writeFileSync(join(repo, 'train.py'), 'print(3)\n');
    const after = versions.of(['python3', 'train.py']);
    release();
    expect(await before).toBe(head);
    expect(await after).toBe(`${head}-dirty`);
    expect(calls).toHaveLength(3);
  });

  it('is nothing, and no failure, for a worktree whose repository is gone', async () => {
    const tree = mkdtempSync(join(tmpdir(), 'ty-lost-worktree-'));
    writeFileSync(join(tree, '.git'), `gitdir: ${join(tree, 'no-such-repository', '.git', 'worktrees', 'tree')}\n`);
    writeFileSync(join(tree, 'train.py'), 'print(1)\n');
    expect(await commandCodeVersion(['python3', 'train.py'], tree)).toBeUndefined();
  });

  describe('without starting git while nothing changed', () => {
    /** A git that counts its calls, and versions read as if two minutes had passed since the repository was made. */
    function counted(repo: string) {
      const calls: string[][] = [];
      const git: Git = async (args) => {
        calls.push(args);
        return execFileSync('git', args, { encoding: 'utf8' });
      };
      let later = 120_000;
      return { calls, versions: new CodeVersions(repo, git, () => Date.now() + later), settle: () => (later += 120_000) };
    }

    let aged = 0;
    /**
     * Asks until an answer comes without git: its first look may write the index's refreshed times,
     * which is a change. The work tree's files are dated an hour back first, as they are by the time
     * a run starts: git rewrites the index on every look while a file is as new as the index itself.
     */
    async function withoutGit(version: () => Promise<string | undefined>, calls: unknown[], settle: () => void, repo: string) {
      // A second apart each time: git compares the times it recorded to the second.
      const anHourAgo = new Date(Date.now() - 3_600_000 - ++aged * 10_000);
      const age = (dir: string) => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          if (entry.name === '.git') continue;
          if (entry.isDirectory()) age(join(dir, entry.name));
          utimesSync(join(dir, entry.name), anHourAgo, anHourAgo);
        }
      };
      age(repo);
      // A look limited to the folder rewrites the index while files elsewhere differ from it; a full one refreshes them.
      execFileSync('git', ['-C', repo, 'status', '--porcelain']);
      for (let i = 0; i < 3; i++) {
        settle();
        const asked = calls.length;
        const answer = await version();
        if (calls.length === asked) return answer;
      }
      throw new Error('git was asked every time');
    }

    it('answers again from its last look until the folder, HEAD, the index or an ignore file changes', async () => {
      const { repo, git, head } = trainerRepo();
      mkdirSync(join(repo, 'models'));
      writeFileSync(join(repo, 'models', 'net.py'), 'x = 1\n');
      git('add', '.');
      git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'net');
      const second = git('rev-parse', 'HEAD');
      const { calls, versions, settle } = counted(repo);
      const version = () => versions.of(['python3', 'train.py']);
      expect(await version()).toBe(second);
      expect(await withoutGit(version, calls, settle, repo)).toBe(second);

      const changes: [string, () => void, string][] = [
        ['a file in a subfolder edited, same size', () => writeFileSync(join(repo, 'models', 'net.py'), 'x = 2\n'), `${second}-dirty`],
        ['the edit undone', () => git('checkout', '-q', '--', 'models/net.py'), second],
        ['HEAD moved back', () => git('reset', '-q', '--hard', head), head],
        ['an untracked file', () => writeFileSync(join(repo, 'notes.txt'), 'untracked\n'), `${head}-dirty`],
        ['the file excluded in info/exclude', () => writeFileSync(join(repo, '.git', 'info', 'exclude'), 'notes.txt\n'), head],
      ];
      for (const [what, change, expected] of changes) {
        change();
        settle();
        expect([what, await version()]).toEqual([what, expected]);
        expect([what, await withoutGit(version, calls, settle, repo)]).toEqual([what, expected]);
      }
    });

    it('sees an ignore file above the folder change', async () => {
      const { repo, git } = trainerRepo();
      mkdirSync(join(repo, 'trainer'));
      writeFileSync(join(repo, 'trainer', 'train.py'), 'print(1)\n');
      writeFileSync(join(repo, '.gitignore'), 'trainer/cache.bin\n');
      git('add', '.');
      git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'trainer folder');
      const head = git('rev-parse', 'HEAD');
      writeFileSync(join(repo, 'trainer', 'cache.bin'), 'cache\n');
      const { calls, versions, settle } = counted(repo);
      const version = () => versions.of(['python3', 'trainer/train.py']);
      expect(await withoutGit(version, calls, settle, repo)).toBe(head);
      writeFileSync(join(repo, '.gitignore'), '# nothing ignored now\n');
      settle();
      expect(await version()).toBe(`${head}-dirty`);
    });

    it('asks git each time for a folder changed in the last two seconds or too large to walk', async () => {
      const { repo, head } = trainerRepo();
      const calls: string[][] = [];
      const git: Git = async (args) => {
        calls.push(args);
        return execFileSync('git', args, { encoding: 'utf8' });
      };
      const now = new CodeVersions(repo, git);
      expect(await now.of(['python3', 'train.py'])).toBe(head);
      expect(await now.of(['python3', 'train.py'])).toBe(head);
      expect(calls).toHaveLength(2);

      const large = trainerRepo();
      mkdirSync(join(large.repo, 'data'));
      for (let i = 0; i < 501; i++) writeFileSync(join(large.repo, 'data', `${i}.csv`), '');
      const { calls: largeCalls, versions } = counted(large.repo);
      expect(await versions.of(['python3', 'train.py'])).toBe(`${large.head}-dirty`);
      expect(await versions.of(['python3', 'train.py'])).toBe(`${large.head}-dirty`);
      expect(largeCalls).toHaveLength(2);
    });
  });
});
