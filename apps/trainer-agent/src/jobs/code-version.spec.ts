import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinCodeVersion, commandCodeVersion, type Git } from './code-version';

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
});
