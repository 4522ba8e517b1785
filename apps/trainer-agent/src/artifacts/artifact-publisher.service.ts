import { Inject, Injectable } from '@nestjs/common';
import { join } from 'node:path';
import { sha256Hex, type Artifact } from '@trainyard/contracts';
import { ARTIFACT_STORE, FileThread, type ArtifactStore, type StoredArtifact } from '@trainyard/storage';

/** A file to publish: its content in memory, or a file already in the work folder (a command trainer's output), streamed from there. */
export type ArtifactFile = InMemoryFile | { name: string; path: string };
export interface InMemoryFile {
  name: string;
  body: string | Buffer;
}

/** A store across a network answers each put a round trip later, and a trainer's output is often several files. */
const UPLOADS_AT_ONCE = 4;

/**
 * `work` for each item, at most `limit` at a time, the results in the items' order. After a failure
 * nothing more starts, and the first error is thrown once what had started has ended.
 */
async function eachSettled<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (!failure && next < items.length) {
      const i = next++;
      try {
        results[i] = await work(items[i] as T);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw failure.error;
  return results;
}

/**
 * Writes an attempt's files to its work folder and uploads them, each verified by reading it back
 * and comparing checksums (unless the store vouches for what it wrote: the local store does, S3
 * does not); `sha256.txt` lists them all and goes last, so its presence means complete.
 */
@Injectable()
export class ArtifactPublisher {
  constructor(
    @Inject(ARTIFACT_STORE) private readonly store: ArtifactStore,
    private readonly files: FileThread,
  ) {}

  /** Written beside its place and renamed there; the folder is made only when the write says it is missing. */
  async writeLocal(workDir: string, file: InMemoryFile): Promise<string> {
    const path = join(workDir, file.name);
    await this.files.run('write', { tmp: `${path}.partial`, target: path, data: file.body });
    return path;
  }

  async upload(prefix: string, file: ArtifactFile): Promise<Artifact> {
    const key = `${prefix}/${file.name}`;
    let put: StoredArtifact;
    let expected: string;
    if ('path' in file) {
      // Streamed: a model file need not fit in memory. The store hashes what it took.
      put = await this.store.putFile(key, file.path);
      expected = put.sha256;
    } else {
      const body = typeof file.body === 'string' ? Buffer.from(file.body) : file.body;
      expected = sha256Hex(body);
      put = await this.store.put(key, body);
    }
    const readBack = put.selfVerified ? put.sha256 : await this.store.sha256(key);
    if (put.sha256 !== expected || readBack !== expected) {
      throw new Error(`checksum mismatch after uploading ${key}: expected ${expected}, stored ${readBack}`);
    }
    return { name: file.name, uri: put.uri, sha256: expected, bytes: put.bytes };
  }

  /**
   * Every file to the work dir and the store, UPLOADS_AT_ONCE at a time, then the checksum list (which
   * also names those uploaded earlier, in the order given). A failure is thrown once the uploads
   * already under way have ended, so a retry never races a put of its own.
   */
  async publish(workDir: string, prefix: string, files: ArtifactFile[], uploadedEarlier: Artifact[] = []): Promise<Artifact[]> {
    const uploaded = await eachSettled(files, UPLOADS_AT_ONCE, async (file) => {
      if (!('path' in file)) await this.writeLocal(workDir, file);
      return this.upload(prefix, file);
    });
    const artifacts: Artifact[] = [...uploadedEarlier, ...uploaded];
    const manifest: InMemoryFile = { name: 'sha256.txt', body: artifacts.map((a) => `${a.sha256}  ${a.name}\n`).join('') };
    await this.writeLocal(workDir, manifest);
    artifacts.push(await this.upload(prefix, manifest));
    return artifacts;
  }
}
