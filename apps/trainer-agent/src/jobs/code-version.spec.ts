import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinCodeVersion, commandCodeVersion } from './code-version';

describe('trainer code versions', () => {
  it("is the workspace package's version for the built-in trainer", () => {
    expect(builtinCodeVersion()).toMatch(/^builtin@\d+\.\d+\.\d+/);
  });

  it("is the git commit of a command trainer's folder, -dirty once it changes or holds a new file, and nothing outside git or before a first commit", async () => {
    const repo = mkdtempSync(join(tmpdir(), 'ty-code-version-'));
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();
    git('init', '-q');
    writeFileSync(join(repo, 'train.py'), 'print(1)\n');
    git('add', '.');
    git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'trainer');
    const head = git('rev-parse', 'HEAD');
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
});
