import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileThread } from '@trainyard/storage';

export interface CheckpointFile {
  name: string;
  body: Buffer;
}

/**
 * Finds checkpoints a trainer has finished writing in `<workDir>/checkpoints/`: a file is taken once
 * its size and modification time hold still between two looks, so a half-written one is not uploaded.
 * Each look is one listing on the file thread: most trainers write none, and the folder is absent.
 */
export class CheckpointWatcher {
  private readonly seen = new Map<string, string>();
  private readonly taken = new Set<string>();

  constructor(
    private readonly workDir: string,
    private readonly files: FileThread,
  ) {}

  async poll(final = false): Promise<CheckpointFile[]> {
    const dir = join(this.workDir, 'checkpoints');
    const listed = await this.files.run('list', { dir, recursive: false });
    const ready: CheckpointFile[] = [];
    for (const { name, size, mtimeMs } of listed ?? []) {
      const signature = `${size}:${mtimeMs}`;
      const key = `${name}@${signature}`;
      const stable = this.seen.get(name) === signature;
      this.seen.set(name, signature);
      if (this.taken.has(key) || (!stable && !final)) continue;
      // One removed since the listing is not there to take; any other failure is the caller's to report.
      const body = await readFile(join(dir, name)).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : Promise.reject(err)));
      if (!body) continue;
      this.taken.add(key);
      ready.push({ name: `checkpoints/${name}`, body });
    }
    return ready;
  }
}
