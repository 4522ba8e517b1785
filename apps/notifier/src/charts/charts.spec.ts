import type { VersionView } from '@trainyard/contracts';
import { niceTicks, thin } from '@trainyard/charts';
import { renderEquityComparison, renderMetricsHistory, type EquityCurve } from './model-charts';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const dimensions = (png: Buffer) => ({ width: png.readUInt32BE(16), height: png.readUInt32BE(20) });

const curve = (n: number, drift: number): EquityCurve => Array.from({ length: n }, (_, i) => ({ t: Date.UTC(2026, 9, 1) + i * 3_600_000, equity: 1 + drift * i + 0.01 * Math.sin(i / 7) }));

const version = (v: number, sharpe: number, stage: VersionView['stage']): VersionView => ({
  symbol: 'BTCUSDT',
  version: v,
  stage,
  runId: 'daily-20261122',
  jobId: `daily-20261122-BTCUSDT-${v}`,
  createdAt: '2026-11-23T01:00:00.000Z',
  promotedAt: null,
  metrics: { directionalHitRate: 0.5 + v / 100, sharpe, maxDrawdown: 0.1, totalReturn: 0.05, mae: 0.01, rmse: 0.02, mape: 1, r2: 0.1 },
  artifactsPrefix: `models/BTCUSDT/${v}`,
  pruned: false,
  decision: null,
});

describe('charts (pureimage, DejaVu Sans, no browser)', () => {
  it('draws candidate against production equity as a PNG, one panel per symbol', async () => {
    const png = await renderEquityComparison([
      { symbol: 'BTCUSDT', candidate: { version: 3, curve: curve(500, 0.0004) }, production: { version: 2, curve: curve(500, 0.0002) } },
      { symbol: 'ETHUSDT', candidate: { version: 1, curve: curve(300, -0.0001) }, production: null },
      { symbol: 'SOLUSDT', candidate: { version: 5, curve: curve(2, 0.1) }, production: { version: 4, curve: curve(2, 0) } },
    ]);
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(png.toString('ascii', 12, 16)).toBe('IHDR');
    expect(dimensions(png)).toEqual({ width: 1040, height: 44 + 2 * 300 });
    expect(png.length).toBeGreaterThan(5_000);
    expect(png.length).toBeLessThan(1_000_000);
  });

  it('draws the metrics history with the production version marked', async () => {
    const png = await renderMetricsHistory('BTCUSDT', [version(3, 0.9, 'candidate'), version(1, 0.4, 'archived'), version(2, 1.1, 'production')]);
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(dimensions(png)).toEqual({ width: 800, height: 44 + 2 * 260 });
    expect(png.length).toBeGreaterThan(5_000);
    // A single version still draws (a dot, not a line).
    expect((await renderMetricsHistory('ETHUSDT', [version(1, 0.2, 'production')])).subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  });

  it('picks round ticks and thins long series, keeping the ends', () => {
    expect(niceTicks(0.93, 1.21)).toEqual([1, 1.1, 1.2]);
    expect(niceTicks(0.93, 1.21, 10)).toEqual([0.95, 1, 1.05, 1.1, 1.15, 1.2]);
    expect(niceTicks(0, 100, 4)).toEqual([0, 50, 100]);
    expect(niceTicks(5, 5)).toEqual([5]);
    const many = Array.from({ length: 5000 }, (_, i) => i);
    const few = thin(many, 500);
    expect(few).toHaveLength(500);
    expect([few[0], few[499]]).toEqual([0, 4999]);
    expect(thin([1, 2, 3], 10)).toEqual([1, 2, 3]);
  });
});
