import { randomBytes } from 'node:crypto';
import { access, constants, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertArtifactKey, assertArtifactPrefix } from './artifact-key';
import { ArtifactNotFoundError, ArtifactStore, ListedArtifact, StoredArtifact } from './artifact-store';
import { FileThread } from './file-thread';
import { sha256Buffer, sha256File } from './sha256';

/** Names of files still being written; never listed as artifacts. */
const PARTIAL = /^\..*\.[0-9a-f]{12}\.partial$/;
/**
 * Artifacts as files under rootDir, with the key as the relative path. Each write goes to a file
 * beside its target and is renamed over it, so a reader sees the old file or the whole new one; the
 * writes run on a thread of their own (FileThread), one hand-off each.
 */
export class LocalArtifactStore implements ArtifactStore {
  readonly kind = 'local' as const;
  readonly rootDir: string;
  private readonly files = new FileThread();

  constructor(rootDir: string) {
    this.rootDir = resolve(rootDir);
  }

  uri(key: string): string {
    return pathToFileURL(this.pathOf(key)).href;
  }

  async put(key: string, body: Buffer | string): Promise<StoredArtifact> {
    const buf = Buffer.from(body);
    const target = this.pathOf(key);
    await this.files.run('write', { tmp: aside(target), target, data: buf });
    return { key, uri: this.uri(key), sha256: sha256Buffer(buf), bytes: buf.length, selfVerified: true };
  }

  async putFile(key: string, path: string): Promise<StoredArtifact> {
    const target = this.pathOf(key);
    const stored = await this.files.run('copy', { src: path, tmp: aside(target), target });
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
      return (await this.files.run('copy', { src: this.pathOf(key), tmp: aside(path), target: path })).sha256;
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
    const target = this.pathOf(toKey);
    await this.files.run('copy', { src: this.pathOf(fromKey), tmp: aside(target), target });
  }

  async ping(): Promise<void> {
    await mkdir(this.rootDir, { recursive: true });
    await access(this.rootDir, constants.W_OK);
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

/** Where a write to `target` goes first: beside it, named so that listings skip it (PARTIAL). */
const aside = (target: string) => join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.partial`);

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
