import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileThread } from './file-thread';

describe('FileThread', () => {
  let work: string;
  const thread = new FileThread();

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ty-file-thread-'));
  });

  afterAll(async () => {
    await thread.close();
    await rm(work, { recursive: true, force: true });
  });

  it('answers requests made together each with its own result', async () => {
    const writes = Array.from({ length: 30 }, (_, i) => thread.run('write', { tmp: join(work, 'a', `.${i}.partial`), target: join(work, 'a', `${i}.txt`), data: Buffer.from(`body ${i}`) }));
    await Promise.all(writes);
    const copies = await Promise.all(
      Array.from({ length: 30 }, (_, i) => thread.run('copy', { src: join(work, 'a', `${i}.txt`), tmp: join(work, 'b', `.${i}.partial`), target: join(work, 'b', `${i}.txt`) })),
    );
    expect(copies.map((c) => c.bytes)).toEqual(Array.from({ length: 30 }, (_, i) => `body ${i}`.length));
    expect(await readFile(join(work, 'b', '7.txt'), 'utf8')).toBe('body 7');
    expect((await readdir(join(work, 'b'))).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('writes a batch of files where they go, making their folders', async () => {
    const files = [
      { path: join(work, 'batch', 'job.json'), data: '{"symbol":"BTCUSDT"}\n' },
      { path: join(work, 'batch', 'inputs', 'candles.parquet'), data: Buffer.from([80, 65, 82, 49]) },
    ];
    await thread.run('writeAll', { files });
    expect(await readFile(files[0]!.path, 'utf8')).toBe('{"symbol":"BTCUSDT"}\n');
    expect(await readFile(files[1]!.path)).toEqual(Buffer.from('PAR1'));
  });

  it('starts another thread for the next request once closed', async () => {
    await thread.run('write', { tmp: join(work, '.c1.partial'), target: join(work, 'c1.txt'), data: Buffer.from('one') });
    await thread.close();
    await thread.run('write', { tmp: join(work, '.c2.partial'), target: join(work, 'c2.txt'), data: Buffer.from('two') });
    expect(await readFile(join(work, 'c2.txt'), 'utf8')).toBe('two');
  });

  it('lists the files in a folder by name, below it only when asked, without partial files, links or folders; null for a folder that is not there', async () => {
    const dir = join(work, 'listed');
    await mkdir(join(dir, 'inputs', 'deeper'), { recursive: true });
    await writeFile(join(dir, 'job.json'), '{}');
    await writeFile(join(dir, 'inputs', 'candles.parquet'), 'PAR1');
    await writeFile(join(dir, 'inputs', 'deeper', 'b.bin'), Buffer.alloc(10));
    await writeFile(join(dir, '.model.bin.1a2b.partial'), 'half');
    await symlink('/etc/passwd', join(dir, 'passwd'));
    const info = await stat(join(dir, 'inputs', 'candles.parquet'));
    expect(await thread.run('list', { dir, recursive: true })).toEqual([
      { name: 'inputs/candles.parquet', size: 4, mtimeMs: info.mtimeMs },
      { name: 'inputs/deeper/b.bin', size: 10, mtimeMs: expect.any(Number) },
      { name: 'job.json', size: 2, mtimeMs: expect.any(Number) },
    ]);
    expect((await thread.run('list', { dir, recursive: false }))?.map((f) => f.name)).toEqual(['job.json']);
    expect(await thread.run('list', { dir: join(work, 'not-there'), recursive: true })).toBeNull();
  });
});
