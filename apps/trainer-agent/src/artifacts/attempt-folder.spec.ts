import { attemptPrefix, attemptStamp } from './attempt-folder';

describe('attempt folders', () => {
  const at = new Date('2026-11-30T09:46:17.250Z');

  it('gives two attempts of one symbol that start in the same second folders of their own', () => {
    const a = attemptPrefix('BTCUSDT', at, { jobId: 'daily-20261130-BTCUSDT', attempt: 1, leaseId: 'daily-20261130-BTCUSDT-a1-lease' });
    const b = attemptPrefix('BTCUSDT', new Date(at.getTime() + 500), { jobId: 'daily-20261130-BTCUSDT', attempt: 2, leaseId: 'daily-20261130-BTCUSDT-a2-lease' });
    const otherJob = attemptPrefix('BTCUSDT', at, { jobId: 'manual-1-BTCUSDT', attempt: 1, leaseId: 'manual-1-BTCUSDT-a1-lease' });
    const otherLease = attemptPrefix('BTCUSDT', at, { jobId: 'daily-20261130-BTCUSDT', attempt: 1, leaseId: 'another-lease' });
    expect(new Set([a, b, otherJob, otherLease]).size).toBe(4);
    expect(a).toMatch(/^models\/BTCUSDT\/20261130_094617Z_a1-[0-9a-f]{8}$/);
    expect(b).toMatch(/^models\/BTCUSDT\/20261130_094617Z_a2-[0-9a-f]{8}$/);
  });

  it('is the same for the same attempt, and still sorts by start time', () => {
    const who = { jobId: 'j1', attempt: 3, leaseId: 'j1-a3-lease' };
    expect(attemptPrefix('ETHUSDT', at, who)).toBe(attemptPrefix('ETHUSDT', at, who));
    const later = attemptPrefix('ETHUSDT', new Date(at.getTime() + 1000), { ...who, attempt: 1 });
    expect([later, attemptPrefix('ETHUSDT', at, who)].sort()[0]).toBe(attemptPrefix('ETHUSDT', at, who));
    expect(attemptStamp(at)).toBe('20261130_094617Z');
  });
});
