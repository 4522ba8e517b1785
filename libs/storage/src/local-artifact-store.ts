import { randomBytes } from 'node:crypto';
import { access, constants, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertArtifactKey, assertArtifactPrefix } from './artifact-key';
import { ArtifactNotFoundError, ArtifactStore, ListedArtifact, StoredArtifact } from './artifact-store';
import { hashFile, sha256Buffer, sha256File } from './sha256';

/** Names of files still being written; never listed as artifacts. */
const PARTIAL = /^\..*\.[0-9a-f]{12}\.partial$/;
/** Folders remembered as made; an attempt's files share one, and a folder is made once, not per file. */
const REMEMBERED_FOLDERS = 256;

/** Artifacts as files under rootDir, with the key as the relative path. */
export class LocalArtifactStore implements ArtifactStore {
  readonly kind = 'local' as const;
  readonly rootDir: string;
  private readonly folders = new Set<string>();

  constructor(rootDir: string) {
    this.rootDir = resolve(rootDir);
  }

  uri(key: string): string {
    return pathToFileURL(this.pathOf(key)).href;
  }

  async put(key: string, body: Buffer | string): Promise<StoredArtifact> {
    const buf = Buffer.from(body);
    await this.writeAside(this.pathOf(key), (tmp) => writeFile(tmp, buf));
    return { key, uri: this.uri(key), sha256: sha256Buffer(buf), bytes: buf.length, selfVerified: true };
  }

  async putFile(key: string, path: string): Promise<StoredArtifact> {
    const stored = await this.writeAside(this.pathOf(key), async (tmp) => {
      await copyFile(path, tmp);
      // Hash the copy, so the checksum describes what was stored even if the source changes meanwhile.
      return hashFile(tmp);
    });
    return { key, uri: this.uri(key), ...stored, selfVerified: true };
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(key));
    } catch (err) {
      throw isMissing(err) ? new ArtifactNotFoundError(key, this.uri(key)) : err;
    }
  }

  async sha256(key: string): Promise<string> {
    try {
      return await sha256File(this.pathOf(key));
    } catch (err) {
      throw isMissing(err) ? new ArtifactNotFoundError(key, this.uri(key)) : err;
    }
  }

  async getFile(key: string, path: string): Promise<string> {
    try {
      return await this.writeAside(path, async (tmp) => {
        await copyFile(this.pathOf(key), tmp);
        return sha256File(tmp);
      });
    } catch (err) {
      throw isMissing(err) ? new ArtifactNotFoundError(key, this.uri(key)) : err;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  async list(prefix: string): Promise<ListedArtifact[]> {
    assertArtifactPrefix(prefix);
    // Only the folder the prefix points into can hold matching keys.
    const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const found: ListedArtifact[] = [];
    await this.walk(folder, found);
    return found.filter((a) => a.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    if (!(await this.exists(fromKey))) throw new ArtifactNotFoundError(fromKey, this.uri(fromKey));
    await this.writeAside(this.pathOf(toKey), (tmp) => copyFile(this.pathOf(fromKey), tmp));
  }

  async ping(): Promise<void> {
    await mkdir(this.rootDir, { recursive: true });
    await access(this.rootDir, constants.W_OK);
  }

  /**
   * Writes next to the target and renames, so a reader sees the old file or the whole new one. The
   * folder is made when not remembered as made, and again when it turns out gone (retention deletes).
   */
  private async writeAside<T>(target: string, write: (tmp: string) => Promise<T>): Promise<T> {
    const folder = dirname(target);
    if (!this.folders.has(folder)) await this.makeFolder(folder);
    const tmp = join(folder, `.${basename(target)}.${randomBytes(6).toString('hex')}.partial`);
    try {
      const result = await write(tmp).catch(async (err) => {
        if (!isMissing(err)) throw err;
        await this.makeFolder(folder);
        return write(tmp);
      });
      await rename(tmp, target);
      return result;
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  private async makeFolder(folder: string): Promise<void> {
    await mkdir(folder, { recursive: true });
    if (this.folders.size >= REMEMBERED_FOLDERS) this.folders.clear();
    this.folders.add(folder);
  }

  private pathOf(key: string): string {
    assertArtifactKey(key);
    return join(this.rootDir, ...key.split('/'));
  }

  private async walk(folder: string, found: ListedArtifact[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(join(this.rootDir, folder), { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    for (const entry of entries) {
      const key = `${folder}${entry.name}`;
      if (entry.isDirectory()) await this.walk(`${key}/`, found);
      else if (entry.isFile() && !PARTIAL.test(entry.name)) {
        found.push({ key, bytes: (await stat(join(this.rootDir, ...key.split('/')))).size });
      }
    }
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
