import { MetricBuffer, POINTS_PER_MESSAGE } from './metric-buffer';

describe('MetricBuffer', () => {
  const at = new Date('2026-11-30T12:00:00Z');

  it('keeps every report with a metric, stepped by step, else epoch, else report number', () => {
    const b = new MetricBuffer(() => at);
    b.add({ percent: 10, loss: 0.9 });
    b.add({ percent: 20, epoch: 3, loss: 0.8, validationMetric: 0.51 });
    b.add({ percent: 30, step: 700, metrics: { 'val/accuracy': 0.6, lr: 0.01 } });
    b.add({ percent: 40 });
    b.add({ percent: 50, loss: Number.NaN, metrics: { auc: 0.7 } });
    expect(b.take()).toEqual([
      { step: 0, at: at.toISOString(), values: { loss: 0.9 } },
      { step: 3, at: at.toISOString(), values: { loss: 0.8, validationMetric: 0.51 } },
      { step: 700, at: at.toISOString(), values: { 'val/accuracy': 0.6, lr: 0.01 } },
      { step: 4, at: at.toISOString(), values: { auc: 0.7 } },
    ]);
    expect(b.lastPercent).toBe(50);
  });

  it('hands out at most one message of points at a time, and takes back what could not be sent, oldest first', () => {
    const b = new MetricBuffer(() => at);
    for (let i = 0; i < POINTS_PER_MESSAGE + 20; i++) b.add({ percent: 1, step: i, loss: i });
    const first = b.take();
    expect(first).toHaveLength(POINTS_PER_MESSAGE);
    b.putBack(first);
    expect(b.take()[0]?.step).toBe(0);
    expect(b.take().map((p) => p.step)).toEqual(Array.from({ length: 20 }, (_, i) => POINTS_PER_MESSAGE + i));
    expect(b.size).toBe(0);
  });

  it('drops the oldest past its bound', () => {
    const b = new MetricBuffer(() => at, 3);
    for (let i = 0; i < 5; i++) b.add({ percent: 1, step: i, loss: i });
    expect(b.take().map((p) => p.step)).toEqual([2, 3, 4]);
  });
});
