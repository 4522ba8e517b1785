import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { assertArtifactKey, assertArtifactPrefix } from './artifact-key';
import { ArtifactNotFoundError, ArtifactStore, ListedArtifact, StoredArtifact } from './artifact-store';
import { hashFile, sha256Buffer } from './sha256';

export interface S3ArtifactStoreOptions {
  bucket: string;
  /** Folder inside the bucket that all keys live under. */
  prefix?: string;
  /** For S3-compatible servers (MinIO, s3rver); AWS when absent. */
  endpoint?: string;
  region: string;
  /** Both or neither; without them the SDK's default credential chain applies. */
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle?: boolean;
}

/** Artifacts as objects in a bucket, under `prefix/`; the SHA-256 travels as object metadata `sha256`. */
export class S3ArtifactStore implements ArtifactStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly root: string;

  constructor(opts: S3ArtifactStoreOptions) {
    this.bucket = opts.bucket;
    const prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (prefix) assertArtifactKey(prefix);
    this.root = prefix ? `${prefix}/` : '';
    this.client = new S3Client({
      region: opts.region,
      endpoint: opts.endpoint,
      forcePathStyle: opts.forcePathStyle,
      credentials: opts.accessKeyId && opts.secretAccessKey ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey } : undefined,
      // The SDK's default CRC32 checksums send bodies aws-chunked; S3-compatible servers such as
      // s3rver store that framing as the object's content.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  uri(key: string): string {
    return `s3://${this.bucket}/${this.objectKey(key)}`;
  }

  async put(key: string, body: Buffer | string, contentType = 'application/octet-stream'): Promise<StoredArtifact> {
    const buf = Buffer.from(body);
    const sha256 = sha256Buffer(buf);
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.objectKey(key),
        Body: buf,
        ContentType: contentType,
        Metadata: { sha256 },
      }),
    );
    return { key, uri: this.uri(key), sha256, bytes: buf.length };
  }

  async putFile(key: string, path: string): Promise<StoredArtifact> {
    const objectKey = this.objectKey(key);
    const { sha256, bytes: size } = await hashFile(path);
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: objectKey,
        Body: createReadStream(path),
        // A stream has no length of its own, and S3 needs one up front.
        ContentLength: size,
        ContentType: 'application/octet-stream',
        Metadata: { sha256 },
      }),
    );
    return { key, uri: this.uri(key), sha256, bytes: size };
  }

  async get(key: string): Promise<Buffer> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (err) {
      throw isNotFound(err) ? new ArtifactNotFoundError(key, this.uri(key)) : err;
    }
  }

  async sha256(key: string): Promise<string> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      // The content is hashed, not the sha256 metadata written with it: this is a check of what is there.
      const hash = createHash('sha256');
      for await (const chunk of out.Body as Readable) hash.update(chunk as Buffer);
      return hash.digest('hex');
    } catch (err) {
      throw isNotFound(err) ? new ArtifactNotFoundError(key, this.uri(key)) : err;
    }
  }

  async getFile(key: string, path: string): Promise<string> {
    const tmp = `${path}.${randomBytes(6).toString('hex')}.partial`;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      const hash = createHash('sha256');
      await pipeline(
        out.Body as Readable,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(tmp),
      );
      await rename(tmp, path);
      return hash.digest('hex');
    } catch (err) {
      await rm(tmp, { force: true });
      throw isNotFound(err) ? new ArtifactNotFoundError(key, this.uri(key)) : err;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async list(prefix: string): Promise<ListedArtifact[]> {
    assertArtifactPrefix(prefix);
    const found: ListedArtifact[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.root + prefix, ContinuationToken }));
      for (const obj of page.Contents ?? []) {
        found.push({ key: obj.Key!.slice(this.root.length), bytes: obj.Size ?? 0 });
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return found;
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    const source = `${this.bucket}/${this.objectKey(fromKey)}`;
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(toKey),
          CopySource: source.split('/').map(encodeURIComponent).join('/'),
        }),
      );
    } catch (err) {
      throw isNotFound(err) ? new ArtifactNotFoundError(fromKey, this.uri(fromKey)) : err;
    }
  }

  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  /** Closes the client's pooled connections. */
  close(): void {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    assertArtifactKey(key);
    return this.root + key;
  }
}

/** GetObject and CopyObject say NoSuchKey; HeadObject has no body, so only NotFound. */
function isNotFound(err: unknown): boolean {
  const name = (err as { name?: string }).name;
  return name === 'NoSuchKey' || name === 'NotFound';
}
