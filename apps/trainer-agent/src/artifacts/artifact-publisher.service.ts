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

  /** Every file to the work dir and the store, then the checksum list (which also names those uploaded earlier). */
  async publish(workDir: string, prefix: string, files: ArtifactFile[], uploadedEarlier: Artifact[] = []): Promise<Artifact[]> {
    const artifacts: Artifact[] = [...uploadedEarlier];
    for (const file of files) {
      if (!('path' in file)) await this.writeLocal(workDir, file);
      artifacts.push(await this.upload(prefix, file));
    }
    const manifest: InMemoryFile = { name: 'sha256.txt', body: artifacts.map((a) => `${a.sha256}  ${a.name}\n`).join('') };
    await this.writeLocal(workDir, manifest);
    artifacts.push(await this.upload(prefix, manifest));
    return artifacts;
  }
}
