import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '@trainyard/contracts';
import { FileThread, LocalArtifactStore, type StoredArtifact } from '@trainyard/storage';
import { ArtifactPublisher } from './artifact-publisher.service';

/** A store that does not vouch for what it wrote (as S3 does not) and stores something other than it was given, as a faulty gateway might. */
class CorruptingStore extends LocalArtifactStore {
  override async put(key: string, body: Buffer | string): Promise<StoredArtifact> {
    const stored = await super.put(key, body);
    await writeFile(join(this.rootDir, ...key.split('/')), 'corrupted');
    return { ...stored, selfVerified: false };
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
});
