import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '@trainyard/contracts';
import { FileThread, LocalArtifactStore, type StoredArtifact } from '@trainyard/storage';
import { waitFor } from '@trainyard/testing';
import { ArtifactPublisher } from './artifact-publisher.service';

/** A store that does not vouch for what it wrote (as S3 does not) and stores something other than it was given, as a faulty gateway might. */
class CorruptingStore extends LocalArtifactStore {
  override async put(key: string, body: Buffer | string): Promise<StoredArtifact> {
    const stored = await super.put(key, body);
    await writeFile(join(this.rootDir, ...key.split('/')), 'corrupted');
    return { ...stored, selfVerified: false };
  }
}

/** A store whose puts wait until the spec lets each go (or fail), so it can see which are under way at once. */
class GatedStore extends LocalArtifactStore {
  readonly started: string[] = [];
  readonly ended: string[] = [];
  private readonly gates = new Map<string, { go: () => void; fail: (err: Error) => void }>();

  override async put(key: string, body: Buffer | string): Promise<StoredArtifact> {
    const name = key.split('/').pop()!;
    this.started.push(name);
    try {
      if (name !== 'sha256.txt') await new Promise<void>((go, fail) => this.gates.set(name, { go, fail }));
      return await super.put(key, body);
    } finally {
      this.ended.push(name);
    }
  }

  inFlight(): string[] {
    return this.started.filter((n) => !this.ended.includes(n));
  }

  release(name: string, err?: Error): void {
    const gate = this.gates.get(name)!;
    if (err) gate.fail(err);
    else gate.go();
  }
}

describe('ArtifactPublisher', () => {
  let dir: string;
  const files = new FileThread();

  afterAll(() => files.close());

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'publisher-'));
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('publishes every file and the checksum list last, without reading back what the local store vouches for', async () => {
    const store = new LocalArtifactStore(join(dir, 'store'));
    const readBack = jest.spyOn(store, 'sha256');
    const work = join(dir, 'work');
    const modelPath = join(dir, 'model.bin');
    await writeFile(modelPath, Buffer.alloc(70_000, 3));
    const artifacts = await new ArtifactPublisher(store, files).publish(work, 'models/BTCUSDT/a1', [
      { name: 'model.bin', path: modelPath },
      { name: 'metrics.json', body: '{"sharpe":1}' },
    ]);
    expect(artifacts.map((a) => [a.name, a.sha256, a.bytes])).toEqual([
      ['model.bin', sha256Hex(Buffer.alloc(70_000, 3)), 70_000],
      ['metrics.json', sha256Hex('{"sharpe":1}'), 12],
      ['sha256.txt', expect.any(String), expect.any(Number)],
    ]);
    expect((await readFile(join(work, 'sha256.txt'), 'utf8')).split('\n')[0]).toBe(`${sha256Hex(Buffer.alloc(70_000, 3))}  model.bin`);
    expect(readBack).not.toHaveBeenCalled();
  });

  it('refuses an upload whose stored copy does not read back as what was sent', async () => {
    const publisher = new ArtifactPublisher(new CorruptingStore(join(dir, 'store')), files);
    await expect(publisher.upload('models/ETHUSDT/a1', { name: 'metrics.json', body: '{"sharpe":1}' })).rejects.toThrow(
      `checksum mismatch after uploading models/ETHUSDT/a1/metrics.json: expected ${sha256Hex('{"sharpe":1}')}, stored ${sha256Hex('corrupted')}`,
    );
  });

  const sixFiles = ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => ({ name: `${n}.json`, body: `{"${n}":1}` }));

  it('uploads four files at a time, lists them in the order given whatever order they end in, and the checksum list after all of them', async () => {
    const store = new GatedStore(join(dir, 'store'));
    const publishing = new ArtifactPublisher(store, files).publish(join(dir, 'work'), 'models/BTCUSDT/a1', sixFiles);
    await waitFor(() => store.inFlight().length === 4, 'four uploads under way', 10_000, 5);
    expect(store.started).toEqual(['a.json', 'b.json', 'c.json', 'd.json']);
    for (const name of ['d.json', 'c.json', 'b.json', 'a.json']) store.release(name);
    // The first four end a moment after their release: two of them still finishing are not the last two.
    await waitFor(() => store.inFlight().join() === 'e.json,f.json', 'the last two under way', 10_000, 5);
    store.release('f.json');
    store.release('e.json');
    const artifacts = await publishing;
    expect(artifacts.map((a) => a.name)).toEqual([...sixFiles.map((f) => f.name), 'sha256.txt']);
    expect(store.started.indexOf('sha256.txt')).toBe(6);
    expect(store.ended.slice(0, 6)).not.toEqual(sixFiles.map((f) => f.name));
    const manifest = await readFile(join(dir, 'work', 'sha256.txt'), 'utf8');
    expect(
      manifest
        .trim()
        .split('\n')
        .map((line) => line.split('  ')[1]),
    ).toEqual(sixFiles.map((f) => f.name));
  });

  it('after a failed upload starts no more, and throws once the uploads under way have ended (a retry never races them)', async () => {
    const store = new GatedStore(join(dir, 'store'));
    let settled = false;
    const publishing = new ArtifactPublisher(store, files).publish(join(dir, 'work'), 'models/ETHUSDT/a1', sixFiles).finally(() => (settled = true));
    publishing.catch(() => undefined);
    await waitFor(() => store.inFlight().length === 4, 'four uploads under way', 10_000, 5);
    store.release('b.json', new Error('the store is unreachable'));
    store.release('a.json');
    await waitFor(() => store.inFlight().length === 2, 'b and a ended', 10_000, 5);
    expect(settled).toBe(false);
    store.release('c.json');
    store.release('d.json');
    await expect(publishing).rejects.toThrow('the store is unreachable');
    expect(store.started).toEqual(['a.json', 'b.json', 'c.json', 'd.json']);
    expect(store.inFlight()).toEqual([]);
  });
});
