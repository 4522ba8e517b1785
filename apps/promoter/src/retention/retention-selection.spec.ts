import { parseAttemptKey } from './attempt-keys';
import { selectPrunable, type RetentionCandidate } from './retention-selection';

const v = (version: number, sharpe: number, over: Partial<RetentionCandidate> = {}): RetentionCandidate => ({
  id: version * 10,
  version,
  stage: 'archived',
  sharpe,
  decided: true,
  pruned: false,
  ...over,
});
const versionsOf = (list: RetentionCandidate[]) => list.map((x) => x.version);

describe('selectPrunable', () => {
  it('keeps the top K by Sharpe, the production and the previous production version', () => {
    const versions = [v(1, -2, { stage: 'production' }), v(2, -1), v(3, 3), v(4, 1.5), v(5, 0.5), v(6, 1)];
    expect(versionsOf(selectPrunable(versions, { keepTop: 2, previousProductionId: 20 }))).toEqual([5, 6]);
  });

  it('keeps versions not decided yet and skips those already pruned', () => {
    const versions = [v(1, 1, { stage: 'production' }), v(2, 0, { decided: false }), v(3, 0, { pruned: true }), v(4, 0)];
    expect(versionsOf(selectPrunable(versions, { keepTop: 0, previousProductionId: null }))).toEqual([4]);
  });

  it('counts the top K among versions that still have artifacts, newer first on ties, non-finite Sharpe last', () => {
    const versions = [v(1, 9, { pruned: true }), v(2, 1), v(3, 1), v(4, NaN), v(5, 0)];
    expect(versionsOf(selectPrunable(versions, { keepTop: 1, previousProductionId: null }))).toEqual([2, 4, 5]);
    expect(versionsOf(selectPrunable([v(2, NaN), v(3, -5)], { keepTop: 1, previousProductionId: null }))).toEqual([2]);
  });
});

describe('parseAttemptKey', () => {
  it('dates attempt keys by their folder and spots checkpoints', () => {
    expect(parseAttemptKey('models/BTCUSDT/20260101_020304Z/checkpoints/epoch-1.pt')).toEqual({
      key: 'models/BTCUSDT/20260101_020304Z/checkpoints/epoch-1.pt',
      folder: 'models/BTCUSDT/20260101_020304Z',
      startedAt: new Date('2026-01-01T02:03:04Z'),
      checkpoint: true,
    });
    expect(parseAttemptKey('models/BTCUSDT/20260101_020304Z/model.bin')?.checkpoint).toBe(false);
  });

  it('reads folders unique per attempt, dated by the stamp before the attempt tag', () => {
    expect(parseAttemptKey('models/BTCUSDT/20260101_020304Z_a2-0f1e2d3c/model.bin')).toEqual({
      key: 'models/BTCUSDT/20260101_020304Z_a2-0f1e2d3c/model.bin',
      folder: 'models/BTCUSDT/20260101_020304Z_a2-0f1e2d3c',
      startedAt: new Date('2026-01-01T02:03:04Z'),
      checkpoint: false,
    });
    expect(parseAttemptKey('models/BTCUSDT/20260101_020304Z_a1-00aa11bb/checkpoints/epoch-1.pt')).toMatchObject({ folder: 'models/BTCUSDT/20260101_020304Z_a1-00aa11bb', checkpoint: true });
    expect(parseAttemptKey('models/BTCUSDT/20260101_020304Z_other/model.bin')).toBeNull();
  });

  it('leaves production copies and other layouts alone', () => {
    expect(parseAttemptKey('models/production/BTCUSDT/v1/model.bin')).toBeNull();
    expect(parseAttemptKey('models/BTCUSDT/daily-1/model.bin')).toBeNull();
    expect(parseAttemptKey('models/BTCUSDT/20260101_020304Z')).toBeNull();
    expect(parseAttemptKey('runs/20260101_020304Z/x/summary.json')).toBeNull();
  });
});
