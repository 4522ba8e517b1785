import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCandleParquet, parseCandleParquet } from './candle-parquet';
import { writeFlatParquet } from './flat-parquet';
import { readParquet } from './parquet-io';

const candles = Array.from({ length: 200 }, (_, i) => ({
  openTime: 1_767_225_600_000 + i * 3_600_000,
  open: 100 + i / 7,
  high: 101.5 + i / 7,
  low: 99.25 - i / 11,
  close: 100.125 + Math.sin(i),
  volume: 1e6 / (i + 1),
}));

describe('writeFlatParquet', () => {
  it('writes candles that read back exactly, column names and types as before', async () => {
    const body = encodeCandleParquet(candles);
    expect(body.subarray(0, 4).toString()).toBe('PAR1');
    expect(body.subarray(-4).toString()).toBe('PAR1');
    expect(await parseCandleParquet(body)).toEqual(candles);
    const { columns, rows } = await readParquet(body);
    expect(columns).toEqual(['open_time', 'open', 'high', 'low', 'close', 'volume']);
    expect(typeof rows[0]!.open_time).toBe('bigint');
  });

  it('writes no rows, and many columns (a list header of 15 or more)', async () => {
    expect(await parseCandleParquet(encodeCandleParquet([]))).toEqual([]);
    const wide = Array.from({ length: 20 }, (_, c) => ({ name: `c${c}`, type: 'DOUBLE' as const, values: [c, c + 0.5, -c] }));
    const { columns, rows } = await readParquet(writeFlatParquet(wide));
    expect(columns).toEqual(wide.map((c) => c.name));
    expect(rows.map((r) => r.c19)).toEqual([19, 19.5, -19]);
  });

  it('refuses columns of different lengths, and a whole-number column given a fraction', () => {
    expect(() =>
      writeFlatParquet([
        { name: 'a', type: 'DOUBLE', values: [1, 2] },
        { name: 'b', type: 'DOUBLE', values: [1] },
      ]),
    ).toThrow('one value a row');
    expect(() => writeFlatParquet([{ name: 'open_time', type: 'INT64', values: [1, 1.5] }])).toThrow('column open_time is INT64 and cannot hold 1.5');
  });

  // What trainers read with: examples/pytorch opens the agent's candles with pyarrow.
  const python = '/usr/bin/python3';
  const pyarrow = spawnSync(python, ['-c', 'import pyarrow'], { encoding: 'utf8' }).status === 0;
  (pyarrow ? it : it.skip)('is read by pyarrow, values and types exact', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flat-parquet-'));
    try {
      const path = join(dir, 'candles.parquet');
      writeFileSync(path, encodeCandleParquet(candles));
      const script = 'import json, sys, pyarrow.parquet as pq\nt = pq.read_table(sys.argv[1])\nprint(json.dumps({"schema": [str(f.type) for f in t.schema], "rows": t.to_pylist()}))';
      const out = spawnSync(python, ['-c', script, path], { encoding: 'utf8' });
      expect(out.stderr).toBe('');
      const read = JSON.parse(out.stdout) as { schema: string[]; rows: Record<string, number>[] };
      expect(read.schema).toEqual(['int64', 'double', 'double', 'double', 'double', 'double']);
      expect(read.rows).toEqual(candles.map((c) => ({ open_time: c.openTime, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume })));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
