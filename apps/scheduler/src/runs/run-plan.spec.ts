import { canonicalJson, RunRequested, toJobSpec, trainingHash } from '@trainyard/contracts';
import { schedulerEnv } from '../config/scheduler.config';
import { concurrencyFor, planJobs } from './run-plan';

const cfg = schedulerEnv.parse({});
const costs = { BTCUSDT: { feeBps: 10, spreadBps: 2 }, ETHUSDT: { feeBps: 12, spreadBps: 3 } };
const request = (extra: object = {}) => RunRequested.parse({ schemaVersion: 1, id: 'r1', occurredAt: '2026-11-23T00:15:00Z', trigger: 'cron', symbols: ['BTCUSDT', 'ETHUSDT'], ...extra });

describe('run plan', () => {
  it('gives the same job ids and specs, byte for byte, for the same inputs', () => {
    const input = { runId: 'daily-20261122', date: '2026-11-22', request: request(), symbols: ['BTCUSDT', 'ETHUSDT'], pastSeconds: new Map<string, number>(), costs, gpuMemoryGb: 0 };
    const a = planJobs(input, cfg);
    const b = planJobs({ ...input, request: request({ id: 'another-message', occurredAt: '2026-11-23T09:00:00Z' }) }, cfg);
    expect(a.map((j) => canonicalJson(j.definition))).toEqual(b.map((j) => canonicalJson(j.definition)));
    expect(a.map((j) => j.specHash)).toEqual(b.map((j) => j.specHash));
    expect(a[0]?.definition.jobId).toBe('daily-20261122-BTCUSDT');
    expect(a[1]?.definition.costs).toEqual({ feeBps: 12, spreadBps: 3 });
  });

  it('uses past durations for ordering and the default for new symbols', () => {
    const jobs = planJobs({ runId: 'r', date: '2026-11-22', request: request(), symbols: ['BTCUSDT', 'ETHUSDT'], pastSeconds: new Map([['BTCUSDT', 42]]), costs, gpuMemoryGb: 0 }, cfg);
    expect(jobs.map((j) => j.expectedSeconds)).toEqual([42, cfg.SCHEDULER_DEFAULT_EXPECTED_MINUTES * 60]);
  });

  it('derives concurrency from the mode, the request, the configuration and the GPUs there are', () => {
    const gpus = (n: number) => ({ agents: 1, gpus: n, cpuSlots: 4, pricePerHour: 0, updatedAt: '2026-11-23T00:00:00Z' });
    expect(concurrencyFor(request({ mode: 'sequential', maxConcurrent: 8 }), cfg, gpus(2))).toBe(1);
    expect(concurrencyFor(request({ mode: 'hybrid' }), cfg, null)).toBe(2);
    expect(concurrencyFor(request({ mode: 'hybrid' }), cfg, gpus(0))).toBe(2);
    expect(concurrencyFor(request({ mode: 'hybrid' }), cfg, gpus(2))).toBe(24);
    expect(concurrencyFor(request({ mode: 'hybrid' }), { ...cfg, SCHEDULER_DEFAULT_MAX_CONCURRENT: 6 }, gpus(2))).toBe(6);
    expect(concurrencyFor(request({ mode: 'hybrid', maxConcurrent: 5 }), cfg, gpus(2))).toBe(5);
    expect(concurrencyFor(request({ mode: 'parallel' }), cfg, null)).toBeGreaterThan(1000);
  });

  it('carries ensureFeatures into the job specs only when the run asks, without changing the training hash', () => {
    const input = { runId: 'r', date: '2026-11-22', symbols: ['BTCUSDT'], pastSeconds: new Map<string, number>(), costs, gpuMemoryGb: 0 };
    const [plain] = planJobs({ ...input, request: request() }, cfg);
    const [ensuring] = planJobs({ ...input, request: request({ ensureFeatures: true }) }, cfg);
    if (!plain || !ensuring) throw new Error('no job planned for BTCUSDT');
    expect(plain.definition).not.toHaveProperty('ensureFeatures');
    expect(ensuring.definition.ensureFeatures).toBe(true);
    expect(toJobSpec(ensuring.definition, 2).ensureFeatures).toBe(true);
    // Where the features come from is not what is trained: the resume ledger sees the same training.
    expect(trainingHash(ensuring.definition)).toBe(trainingHash(plain.definition));
    expect(ensuring.specHash).not.toBe(plain.specHash);
  });

  it('plans one job per symbol and variant asked for, and the plain model alone when none is', () => {
    const input = { runId: 'r', date: '2026-11-22', symbols: ['BTCUSDT', 'ETHUSDT'], pastSeconds: new Map<string, number>(), costs, gpuMemoryGb: 0 };
    const plain = planJobs({ ...input, request: request() }, cfg);
    const both = planJobs({ ...input, request: request({ variants: ['default', 'bull', 'bear'] }) }, cfg);
    expect(both.map((j) => j.definition.jobId)).toEqual(['r-BTCUSDT', 'r-BTCUSDT-bull', 'r-BTCUSDT-bear', 'r-ETHUSDT', 'r-ETHUSDT-bull', 'r-ETHUSDT-bear']);
    expect(both.map((j) => j.definition.variant)).toEqual([undefined, 'bull', 'bear', undefined, 'bull', 'bear']);
    // The plain model's definition is the one a run without --variants plans, byte for byte.
    expect(canonicalJson(both[0]?.definition)).toBe(canonicalJson(plain[0]?.definition));
    expect(both[0]?.definition).not.toHaveProperty('variant');
    const specialists = planJobs({ ...input, request: request({ variants: ['bull', 'bear'] }) }, cfg);
    expect(specialists.map((j) => j.definition.jobId)).toEqual(['r-BTCUSDT-bull', 'r-BTCUSDT-bear', 'r-ETHUSDT-bull', 'r-ETHUSDT-bear']);
    expect(new Set(specialists.map((j) => trainingHash(j.definition))).size).toBe(4);
  });
});
