import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ArtifactNotFoundError, ArtifactStore, InjectArtifactStore, LocalArtifactStore, S3ArtifactStore, StorageModule, hashFile, sha256File } from '@trainyard/storage';
import { startS3TestServer, type S3TestServer } from '@trainyard/testing';

const hex = (body: string | Buffer) => createHash('sha256').update(body).digest('hex');

let work: string;
let s3: S3TestServer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ty-storage-'));
  s3 = await startS3TestServer();
});

afterAll(async () => {
  await s3.close();
  await rm(work, { recursive: true, force: true });
});

const s3Options = (prefix?: string) => ({
  bucket: s3.bucket,
  prefix,
  endpoint: s3.endpoint,
  region: 'us-east-1',
  accessKeyId: 'S3RVER',
  secretAccessKey: 'S3RVER',
  forcePathStyle: true,
});

const stores: [string, () => ArtifactStore, (key: string) => string][] = [
  ['LocalArtifactStore', () => new LocalArtifactStore(join(work, 'local')), (key) => `file://${join(work, 'local', key)}`],
  ['S3ArtifactStore', () => new S3ArtifactStore(s3Options('team/trainyard/')), (key) => `s3://${s3.bucket}/team/trainyard/${key}`],
];

describe.each(stores)('%s', (name, make, expectedUri) => {
  let store: ArtifactStore;

  beforeAll(() => {
    store = make();
  });

  afterAll(() => {
    if (store instanceof S3ArtifactStore) store.close();
  });

  it('answers ping', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it('round-trips a body with its sha256 and size', async () => {
    const body = 'model weights\n';
    const stored = await store.put('runs/r1/BTCUSDT/model.txt', body, 'text/plain');
    expect(stored).toEqual({
      key: 'runs/r1/BTCUSDT/model.txt',
      uri: expectedUri('runs/r1/BTCUSDT/model.txt'),
      sha256: hex(body),
      bytes: Buffer.byteLength(body),
      // Only the local store vouches for what it wrote; what S3 stored is read back from it.
      ...(name === 'LocalArtifactStore' ? { selfVerified: true } : {}),
    });
    expect((await store.get('runs/r1/BTCUSDT/model.txt')).toString()).toBe(body);

    const binary = Buffer.from([0, 255, 1, 254]);
    expect((await store.put('runs/r1/BTCUSDT/model.bin', binary)).sha256).toBe(hex(binary));
    expect(await store.get('runs/r1/BTCUSDT/model.bin')).toEqual(binary);
  });

  it('uploads a file', async () => {
    const path = join(work, `upload-${name}.bin`);
    await writeFile(path, Buffer.alloc(300_000, 7));
    const stored = await store.putFile('runs/r1/ETHUSDT/model.onnx', path);
    expect(stored.bytes).toBe(300_000);
    expect(stored.sha256).toBe(await sha256File(path));
    // Buffer.equals: Jest's deep equality walks large buffers byte by byte.
    expect((await store.get('runs/r1/ETHUSDT/model.onnx')).equals(Buffer.alloc(300_000, 7))).toBe(true);
    // Read through in chunks: the checksum of what is stored, as the whole body's.
    expect(await store.sha256('runs/r1/ETHUSDT/model.onnx')).toBe(hex(Buffer.alloc(300_000, 7)));
    const fetched = join(work, `fetched-${name}.bin`);
    expect(await store.getFile('runs/r1/ETHUSDT/model.onnx', fetched)).toBe(hex(Buffer.alloc(300_000, 7)));
    expect(await sha256File(fetched)).toBe(hex(Buffer.alloc(300_000, 7)));
  });

  it('lists every key under a prefix, and only those', async () => {
    await Promise.all(['list/a/1', 'list/a/2', 'list/a/deep/3', 'list/ab/4', 'list/b/5'].map((k) => store.put(k, k)));
    expect((await store.list('list/a/')).map((a) => a.key)).toEqual(['list/a/1', 'list/a/2', 'list/a/deep/3']);
    expect((await store.list('list/a')).map((a) => a.key)).toEqual(['list/a/1', 'list/a/2', 'list/a/deep/3', 'list/ab/4']);
    expect(await store.list('list/b/5')).toEqual([{ key: 'list/b/5', bytes: 8 }]);
    expect(await store.list('nothing/here/')).toEqual([]);
    expect((await store.list('')).map((a) => a.key)).toContain('runs/r1/BTCUSDT/model.txt');
  });

  it('tells whether a key exists', async () => {
    await store.put('exists/yes', 'y');
    expect(await store.exists('exists/yes')).toBe(true);
    expect(await store.exists('exists/no')).toBe(false);
    expect(await store.exists('exists')).toBe(false);
  });

  it('copies, and deletes', async () => {
    await store.put('copy/from.json', '{"a":1}', 'application/json');
    await store.copy('copy/from.json', 'copy/to/to.json');
    expect((await store.get('copy/to/to.json')).toString()).toBe('{"a":1}');

    await store.delete('copy/from.json');
    expect(await store.exists('copy/from.json')).toBe(false);
    await expect(store.delete('copy/from.json')).resolves.toBeUndefined();
  });

  it('reports a missing artifact as ArtifactNotFoundError', async () => {
    await expect(store.get('missing/key')).rejects.toBeInstanceOf(ArtifactNotFoundError);
    await expect(store.sha256('missing/key')).rejects.toBeInstanceOf(ArtifactNotFoundError);
    await expect(store.getFile('missing/key', join(work, `never-${name}`))).rejects.toBeInstanceOf(ArtifactNotFoundError);
    // Nothing written, not even a partial file.
    expect((await readdir(work)).filter((f) => f.startsWith(`never-${name}`))).toEqual([]);
    await expect(store.copy('missing/key', 'copy/never')).rejects.toBeInstanceOf(ArtifactNotFoundError);
  });

  it.each([
    ['', /is empty/],
    ['/etc/passwd', /is absolute/],
    ['runs/../../secret', /"\.\." segment/],
    ['runs\\r1', /backslash/],
    ['runs//r1', /empty segment/],
  ])('refuses the key %j', async (key, why) => {
    expect(() => store.uri(key)).toThrow(why);
    await expect(store.put(key, 'x')).rejects.toThrow(`artifact key "${key}" refused`);
    await expect(store.get(key)).rejects.toThrow(why);
  });

  it('refuses a prefix that leaves the store', async () => {
    await expect(store.list('../')).rejects.toThrow(/"\.\." segment/);
  });
});

describe('hashFile', () => {
  it.each([0, 1, 65_536, 65_537, 3 * 65_536 + 100])('hashes a file of %d bytes as its whole body, and counts them', async (size) => {
    const body = Buffer.alloc(size);
    for (let i = 0; i < size; i++) body[i] = (i * 31) % 251;
    const path = join(work, `hash-${size}.bin`);
    await writeFile(path, body);
    await expect(hashFile(path)).resolves.toEqual({ sha256: hex(body), bytes: size });
  });
});

describe('LocalArtifactStore', () => {
  it('writes into a folder removed after it was first written to (retention), making it again', async () => {
    const store = new LocalArtifactStore(join(work, 'removed'));
    await store.put('runs/r9/a.txt', 'one');
    await rm(join(work, 'removed', 'runs', 'r9'), { recursive: true });
    await store.put('runs/r9/b.txt', 'two');
    const path = join(work, 'two.txt');
    await writeFile(path, 'three');
    await rm(join(work, 'removed', 'runs', 'r9'), { recursive: true });
    await store.putFile('runs/r9/c.txt', path);
    expect(await readdir(join(work, 'removed', 'runs', 'r9'))).toEqual(['c.txt']);
    expect((await store.get('runs/r9/c.txt')).toString()).toBe('three');
  });

  it("copies a file larger than its file thread reads at once whole, with the whole body's checksum", async () => {
    const store = new LocalArtifactStore(join(work, 'large'));
    const body = Buffer.alloc(3 * 1024 * 1024 + 100);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) % 251;
    const path = join(work, 'large.bin');
    await writeFile(path, body);
    await expect(store.putFile('m/large.bin', path)).resolves.toMatchObject({ sha256: hex(body), bytes: body.length });
    expect((await store.get('m/large.bin')).equals(body)).toBe(true);
    await expect(store.getFile('m/large.bin', join(work, 'large-back', 'large.bin'))).resolves.toBe(hex(body));
  });

  it('fails a copy from a missing file with its error and leaves nothing behind, and fetches a missing key as not found', async () => {
    const store = new LocalArtifactStore(join(work, 'missing'));
    await store.put('m/kept.txt', 'kept');
    await expect(store.putFile('m/copy.txt', join(work, 'no-such-file'))).rejects.toMatchObject({ code: 'ENOENT', message: expect.stringContaining('no-such-file') });
    expect(await readdir(join(work, 'missing', 'm'))).toEqual(['kept.txt']);
    await expect(store.getFile('m/gone.txt', join(work, 'missing-back', 'gone.txt'))).rejects.toBeInstanceOf(ArtifactNotFoundError);
    expect(await readdir(join(work, 'missing-back'))).toEqual([]);
  });

  it('leaves no partial files behind and lists none', async () => {
    const store = new LocalArtifactStore(join(work, 'atomic'));
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.put('same/key', `version ${i}`)));
    expect(await readdir(join(work, 'atomic', 'same'))).toEqual(['key']);
    expect((await store.get('same/key')).toString()).toMatch(/^version \d+$/);
  });
});

describe('S3ArtifactStore', () => {
  it('keeps the sha256 as object metadata', async () => {
    const store = new S3ArtifactStore(s3Options());
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    try {
      await store.put('meta/x', 'hashed');
      const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'meta/x' }));
      expect(head.Metadata).toEqual({ sha256: hex('hashed') });
    } finally {
      store.close();
      client.destroy();
    }
  });

  it('fails ping for a missing bucket', async () => {
    const store = new S3ArtifactStore({ ...s3Options(), bucket: 'no-such-bucket' });
    await expect(store.ping()).rejects.toThrow();
    store.close();
  });
});

describe('StorageModule', () => {
  @Injectable()
  class Publisher {
    constructor(@InjectArtifactStore() readonly store: ArtifactStore) {}
  }

  it('provides the configured store to injecting providers', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [StorageModule.forRoot({ kind: 'local', dir: join(work, 'module') })],
      providers: [Publisher],
    }).compile();
    const app = await moduleRef.init();
    const store = app.get(Publisher).store;
    expect(store.kind).toBe('local');
    expect(store.uri('a/b')).toBe(`file://${join(work, 'module', 'a', 'b')}`);
    await app.close();
  });
});
