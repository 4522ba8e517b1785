export interface StoredArtifact {
  key: string;
  uri: string;
  sha256: string;
  bytes: number;
  /**
   * The store vouches that it holds exactly the bytes sha256 names, so reading them back would tell
   * nothing more: the local store (a copied file is hashed as written, and a read right after a write
   * comes from the same page cache); not S3, whose read goes to the server that stored them.
   */
  selfVerified?: boolean;
}

export interface ListedArtifact {
  key: string;
  bytes: number;
}

/**
 * Where artifacts (model files, checksums, run summaries) live. Keys are '/'-separated relative
 * paths, laid out the same in every store.
 */
export interface ArtifactStore {
  readonly kind: 'local' | 's3';
  uri(key: string): string;
  put(key: string, body: Buffer | string, contentType?: string): Promise<StoredArtifact>;
  putFile(key: string, path: string): Promise<StoredArtifact>;
  /** Rejects with ArtifactNotFoundError when there is no such key. */
  get(key: string): Promise<Buffer>;
  /**
   * The SHA-256 of what is stored, read through without holding the object in memory (model files
   * run to gigabytes). Rejects with ArtifactNotFoundError when there is no such key.
   */
  sha256(key: string): Promise<string>;
  /**
   * Writes the object to a file, streamed, and returns the SHA-256 of what was written (the file is
   * whole or absent: written aside and renamed). Rejects with ArtifactNotFoundError when there is no such key.
   */
  getFile(key: string, path: string): Promise<string>;
  exists(key: string): Promise<boolean>;
  /** Every key starting with prefix ('' for all), sorted. */
  list(prefix: string): Promise<ListedArtifact[]>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Rejects with ArtifactNotFoundError when fromKey does not exist. */
  copy(fromKey: string, toKey: string): Promise<void>;
  /** Resolves when the store is reachable and writable. */
  ping(): Promise<void>;
}

export class ArtifactNotFoundError extends Error {
  constructor(
    readonly key: string,
    readonly uri: string,
  ) {
    super(`artifact "${key}" not found (${uri})`);
    this.name = 'ArtifactNotFoundError';
  }
}
