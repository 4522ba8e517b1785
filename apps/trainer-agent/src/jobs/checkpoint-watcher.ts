import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface CheckpointFile {
  name: string;
  body: Buffer;
}

/**
 * Finds checkpoints a trainer has finished writing in `<workDir>/checkpoints/`: a file is taken once
 * its size and modification time hold still between two looks, so a half-written one is not uploaded.
 */
export class CheckpointWatcher {
  private readonly seen = new Map<string, string>();
  private readonly taken = new Set<string>();

  constructor(private readonly workDir: string) {}

  async poll(final = false): Promise<CheckpointFile[]> {
    const dir = join(this.workDir, 'checkpoints');
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => !n.endsWith('.partial')).sort();
    } catch {
      return [];
    }
    const ready: CheckpointFile[] = [];
    for (const name of names) {
      const info = await stat(join(dir, name)).catch(() => null);
      if (!info?.isFile()) continue;
      const signature = `${info.size}:${info.mtimeMs}`;
      const key = `${name}@${signature}`;
      const stable = this.seen.get(name) === signature;
      this.seen.set(name, signature);
      if (this.taken.has(key) || (!stable && !final)) continue;
      this.taken.add(key);
      ready.push({ name: `checkpoints/${name}`, body: await readFile(join(dir, name)) });
    }
    return ready;
  }
}
