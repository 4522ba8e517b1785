import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  canonicalJson,
  contractFor,
  dailyRunId,
  defaultDataDate,
  Events,
  JobDefinition,
  jsonSchemas,
  queryJsonSchemas,
  Queries,
  querySubject,
  RunRequested,
  specHash,
  toJobSpec,
  releaseRank,
  trainingHash,
  attemptEventSources,
  leaseTransitionSources,
  canTransitionJob,
  jobIdFor,
  modelKey,
  sha256Hex,
} from './index';
import { testJobDefinition } from '@trainyard/testing';

const def: JobDefinition = testJobDefinition({
  jobId: 'daily-20261122-BTCUSDT',
  runId: 'daily-20261122',
  lookbackCandles: 2000,
  model: { type: 'logistic', learningRate: 0.1, epochs: 20, seed: 7 },
});

describe('contracts', () => {
  it('canonical JSON ignores key order, so spec hashes are stable', () => {
    const reordered = JSON.parse(JSON.stringify({ ...def, model: { seed: 7, epochs: 20, learningRate: 0.1, type: 'logistic' } }));
    expect(canonicalJson(reordered)).toBe(canonicalJson(def));
    expect(specHash(reordered)).toBe(specHash(def));
    expect(specHash({ ...def, symbol: 'ETHUSDT' })).not.toBe(specHash(def));
  });

  it('keys the resume ledger on the training, not on the run that asked for it', () => {
    const other = { ...def, runId: 'cli-1', jobId: 'cli-1-BTCUSDT', priority: 'urgent' as const, timeoutMinutes: 90 };
    expect(trainingHash(other)).toBe(trainingHash(def));
    expect(specHash(other)).not.toBe(specHash(def));
    expect(trainingHash({ ...def, date: '2026-11-21' })).not.toBe(trainingHash(def));
    expect(trainingHash({ ...def, costs: { feeBps: 5, spreadBps: 2 } })).not.toBe(trainingHash(def));
  });

  it('job specs carry the hash of their definition', () => {
    const spec = toJobSpec(def, 1);
    expect(spec.specHash).toMatch(/^[a-f0-9]{64}$/);
    expect(toJobSpec(def, 3, { oomFailures: 2 }).batchSizeFactor).toBe(0.25);
    expect(toJobSpec(def, 3, { oomFailures: 2 }).specHash).toBe(spec.specHash);
    expect(Events.JobRequested.schema.parse({ schemaVersion: 1, id: 'x', occurredAt: new Date().toISOString(), spec })).toBeTruthy();
  });

  it('sends a definition stored before promotion left it without promote and canary, under the hash it was stored with', () => {
    const stored = { ...def, promote: 'auto', canary: false } as JobDefinition;
    const spec = toJobSpec(stored, 2);
    const sent = Events.JobRequested.schema.parse({ schemaVersion: 1, id: 'x', occurredAt: new Date().toISOString(), spec }).spec;
    expect(sent).not.toHaveProperty('promote');
    expect(sent).not.toHaveProperty('canary');
    // Every attempt of the old job gets the same hash (an agent reuses a kept outcome by it); the training hash never had them.
    expect(sent.specHash).toBe(specHash(stored));
    expect(trainingHash(stored)).toBe(trainingHash(def));
  });

  it('refuses symbols that could escape a path or a subject', () => {
    for (const bad of ['../etc', 'BTC/USDT', '', 'btc usdt', 'A.B', 'X*']) {
      const r = RunRequested.safeParse({ schemaVersion: 1, id: 'r', occurredAt: new Date().toISOString(), trigger: 'cli', symbols: [bad] });
      expect(r.success).toBe(false);
    }
  });

  it('fills run request defaults', () => {
    const r = RunRequested.parse({ schemaVersion: 1, id: 'r', occurredAt: new Date().toISOString(), trigger: 'event', symbols: { topN: 3 } });
    expect(r).toMatchObject({ mode: 'hybrid', priority: 'normal', promote: 'off', canary: false, force: false, dryRun: false, ensureFeatures: false, driver: { kind: 'builtin' } });
  });

  it('keeps ensureFeatures out of the training hash: it changes where features come from, not the model', () => {
    const ensuring = { ...def, ensureFeatures: true };
    expect(JobDefinition.parse(ensuring).ensureFeatures).toBe(true);
    expect(JobDefinition.parse(def)).not.toHaveProperty('ensureFeatures');
    expect(trainingHash(ensuring)).toBe(trainingHash(def));
    expect(toJobSpec(ensuring, 1).ensureFeatures).toBe(true);
  });

  it("gives a specialist its own job id, training hash and registry key, and leaves the plain model's as they were", () => {
    const bull: JobDefinition = { ...def, jobId: jobIdFor(def.runId, def.symbol, 'bull'), variant: 'bull' };
    expect(jobIdFor('daily-20261122', 'BTCUSDT')).toBe('daily-20261122-BTCUSDT');
    expect(bull.jobId).toBe('daily-20261122-BTCUSDT-bull');
    expect(JobDefinition.parse(def)).not.toHaveProperty('variant');
    // The plain model's hash is the one stored ledgers hold: computed without a variant field at all.
    const { symbol, date, featureset, timeframe, lookbackCandles, model, costs, driver } = def;
    expect(trainingHash(def)).toBe(sha256Hex(canonicalJson({ symbol, date, featureset, timeframe, lookbackCandles, model, costs, driver })));
    expect(trainingHash(bull)).not.toBe(trainingHash(def));
    expect(trainingHash({ ...bull, variant: 'bear' })).not.toBe(trainingHash(bull));
    expect(JobDefinition.safeParse({ ...def, variant: 'default' }).success).toBe(false);
    expect(modelKey('BTCUSDT')).toBe('BTCUSDT');
    expect(modelKey('BTCUSDT', 'default')).toBe('BTCUSDT');
    expect(modelKey('BTCUSDT', 'bull')).toBe('BTCUSDT/bull');
  });

  it('takes variants as a list of known variants, each once', () => {
    const request = { schemaVersion: 1, id: 'r', occurredAt: new Date().toISOString(), trigger: 'cli', symbols: ['BTCUSDT'] };
    expect(RunRequested.parse({ ...request, variants: ['bull', 'bear'] }).variants).toEqual(['bull', 'bear']);
    expect(RunRequested.safeParse({ ...request, variants: ['bull', 'bull'] }).success).toBe(false);
    expect(RunRequested.safeParse({ ...request, variants: [] }).success).toBe(false);
  });

  it('derives the daily run id and default date from the clock', () => {
    expect(defaultDataDate(new Date('2026-11-23T00:15:00Z'))).toBe('2026-11-22');
    expect(defaultDataDate(new Date('2026-03-01T10:00:00Z'))).toBe('2026-02-28');
    expect(dailyRunId('2026-11-22')).toBe('daily-20261122');
  });

  it('routes parameterised subjects from the payload', () => {
    expect(contractFor('job.cancel').subject({ jobId: 'j1' } as never)).toBe('job.j1.cancel');
    expect(contractFor('agent.assign').filter).toBe('agent.*.assign');
    expect(() => contractFor('nope')).toThrow(/unknown event/);
  });

  it('exports a JSON Schema for every event', () => {
    const schemas = jsonSchemas();
    expect(Object.keys(schemas)).toHaveLength(Object.keys(Events).length + 1);
    expect(schemas['run.requested']).toMatchObject({ type: 'object', title: 'run.requested', 'x-subject': '<prefix>.run.requested' });
    expect(schemas['dead-letter']).toMatchObject({ type: 'object', 'x-subject': '<prefix>.dlq.>' });
  });

  it('ranks production retraining before search trials, within a priority', () => {
    expect(releaseRank('normal', 'production')).toBeLessThan(releaseRank('normal', 'search'));
    expect(releaseRank('high', 'search')).toBeLessThan(releaseRank('normal', 'production'));
    expect(releaseRank('urgent', 'production')).toBe(0);
  });

  it('refuses job transitions out of terminal states', () => {
    expect(canTransitionJob('running', 'succeeded')).toBe(true);
    expect(canTransitionJob('succeeded', 'running')).toBe(false);
    expect(canTransitionJob('cancelled', 'released')).toBe(false);
  });

  it("lists where an attempt's own event may move a job from, as the scheduler's conditional UPDATEs use it", () => {
    expect(attemptEventSources('leased')).toEqual(['released']);
    expect(attemptEventSources('running')).toEqual(['released', 'leased']);
    // A late success of the attempt that was about to be retried still counts; its start does not move the job.
    expect(attemptEventSources('succeeded')).toEqual(['released', 'leased', 'running', 'retry_wait']);
    expect(leaseTransitionSources('running')).toEqual(['assigned']);
    expect(leaseTransitionSources('released')).toEqual(['assigned', 'running']);
  });
});

describe('published JSON Schemas', () => {
  it('docs/events matches the contracts (regenerate with npm run export:schemas)', () => {
    for (const [name, schema] of Object.entries(jsonSchemas())) {
      const file = join(__dirname, '../../../docs/events', `${name}.schema.json`);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(schema);
    }
  });

  it('docs/queries matches the query contracts, a request and a response schema each', () => {
    const schemas = queryJsonSchemas();
    expect(Object.keys(schemas)).toHaveLength(Object.keys(Queries).length * 2);
    for (const [name, schema] of Object.entries(schemas)) {
      const file = join(__dirname, '../../../docs/queries', `${name}.schema.json`);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(schema);
    }
  });
});

describe('operator commands and queries', () => {
  const envelope = { schemaVersion: 1, id: 'c1', occurredAt: new Date().toISOString() };

  it('names who asked for every command', () => {
    for (const name of ['run.cancel', 'job.retry', 'model.promote', 'model.rollback']) {
      const c = contractFor(name);
      expect(c.public).toBe(true);
      const r = c.schema.safeParse({ ...envelope, runId: 'r1', jobId: 'j1', symbol: 'BTCUSDT', version: 2, reason: 'why' });
      expect(r.success ? [] : r.error.issues.map((i) => i.path.join('.'))).toEqual(['requestedBy']);
    }
    expect(contractFor('job.cancel').schema.safeParse({ ...envelope, jobId: 'j1', reason: 'timeout' }).success).toBe(true);
  });

  it('asks questions outside the stream of the prefix', () => {
    expect(querySubject('trainyard', 'runs.active')).toBe('query.trainyard.runs.active');
    expect(querySubject('trainyard', 'runs.active').startsWith('trainyard.')).toBe(false);
  });
});
