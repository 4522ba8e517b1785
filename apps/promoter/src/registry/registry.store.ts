import { Injectable } from '@nestjs/common';
import { DataSource, In, Not, type EntityManager } from 'typeorm';
import { BatchedCalls } from '@trainyard/runtime';
import { entityFromRow } from '@trainyard/persistence';
import { DecisionEntity } from './decision.entity';
import type { Variant } from '@trainyard/contracts';
import { keyName, type ModelKey } from './model-key';
import { ModelVersionEntity, type ModelStage } from './model-version.entity';

export type NewVersion = Omit<ModelVersionEntity, 'id' | 'version' | 'stage' | 'createdAt' | 'promotedAt' | 'prunedAt'>;
export type NewDecision = Omit<DecisionEntity, 'id' | 'createdAt' | 'commandId'> & { commandId?: string | null };

/** What registering a success came to: its own version, or (registered false) the version its job already has. */
export interface Registration {
  version: ModelVersionEntity;
  registered: boolean;
  /** Inserted by this call: no decision on it can exist yet. */
  created: boolean;
  /** When created: the key's production version as the inserting statement saw it (read in the same statement). */
  production?: ModelVersionEntity | null;
}

/** A success not registered because another attempt of its job had succeeded first. */
export interface IgnoredSuccess {
  jobId: string;
  attempt: number;
  symbol: string;
  leaseId: string | null;
  artifactsPrefix: string;
  /** Null for an attempt fenced off before any of its job was registered. */
  winnerVersionId: number | null;
  winnerAttempt: number | null;
  /** Why it was not registered, for a fenced-off attempt. */
  reason: string | null;
  createdAt: Date;
}

/** Rules of decisions an operator made; any number per version, unlike the one automatic decision. */
export const MANUAL_RULES = ['manual_rollback', 'manual_promote'] as const;
export type ManualRule = (typeof MANUAL_RULES)[number];
const automatic = (versionId: number) => ({ versionId, rule: Not(In([...MANUAL_RULES])) });

export interface VersionFilter {
  symbol?: string;
  variant?: Variant;
  stage?: ModelStage;
  limit: number;
  offset: number;
}

/** The reads and writes a decision makes while it holds its model key's production lock. */
export interface ProductionTransaction {
  /** The version's automatic decision. */
  decisionOf(versionId: number): Promise<DecisionEntity | null>;
  /** The key's production version as the previous lock holder left it. */
  production(): Promise<ModelVersionEntity | null>;
  version(version: number): Promise<ModelVersionEntity | null>;
  /** The version most recently put into production that is no longer there. */
  previousProduction(): Promise<ModelVersionEntity | null>;
  versions(): Promise<ModelVersionEntity[]>;
  /** Ids of the key's versions that have their automatic decision. */
  decidedIds(): Promise<Set<number>>;
  /** Archives a version whose trainer artifacts were deleted. */
  markPruned(versionId: number, at: Date): Promise<void>;
  recordDecision(decision: NewDecision): Promise<DecisionEntity>;
  /** The manual decision a command made, with the version it put into production; for any key, as command ids are unique across keys. */
  commandDecision(commandId: string): Promise<{ decision: DecisionEntity; version: ModelVersionEntity } | null>;
  /** Archives the current production version and puts this one in its place. */
  makeProduction(version: ModelVersionEntity, at: Date): Promise<void>;
}

/** Each try numbers past every version committed before it; only a burst of one key's successes needs a second. */
const MAX_NUMBERING_TRIES = 50;

/**
 * The promoter's tables. A transaction-scoped advisory lock per model key (two-key form, a space of
 * its own; a plain model's lock is on its symbol, as before specialists) serialises changes to
 * production. On the embedded PGlite every connection shares one session, where transactions run one
 * at a time anyway.
 */
@Injectable()
export class RegistryStore {
  private readonly decisions = new BatchedCalls<NewDecision, DecisionEntity>((batch) => this.recordDecisionsOnce(batch));

  constructor(private readonly ds: DataSource) {}

  async ping(): Promise<void> {
    await this.ds.query('SELECT 1');
  }

  /**
   * Registers an attempt as its model key's next version, at most one per job: the first attempt of a
   * job to succeed wins. The same attempt again gets the version it already has; a success of another
   * attempt of a job that has its version is kept in ignored_successes and answered with the winner.
   * The unique indexes make this hold whatever runs at the same time, without a transaction: a number
   * another job of the key took at the same moment conflicts, and the next statement, seeing that
   * job's row, numbers past it.
   */
  async register(fields: NewVersion, leaseId?: string): Promise<Registration> {
    const repo = this.ds.getRepository(ModelVersionEntity);
    const columns = this.ds.getMetadata(ModelVersionEntity).columns.map((c) => c.databaseName);
    for (let tries = 1; ; tries++) {
      // The key's production version comes back with the new row, for a decision that takes no lock (policy off or dry).
      const [row]: Record<string, unknown>[] = await this.ds.query(
        `WITH v AS (
           INSERT INTO promoter.model_versions (symbol, variant, version, run_id, job_id, attempt, promote, canary, artifacts_prefix, artifacts, metrics, featureset, costs, evaluation_window, stage)
           SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'candidate'
             FROM promoter.model_versions WHERE symbol = $1 AND variant = $2
           ON CONFLICT DO NOTHING
           RETURNING id, version, created_at)
         SELECT v.id AS new_id, v.version AS new_version, v.created_at AS new_created_at, ${columns.map((c) => `p.${c} AS "p.${c}"`).join(', ')}
           FROM v LEFT JOIN promoter.model_versions p ON p.symbol = $1 AND p.variant = $2 AND p.stage = 'production'`,
        [
          fields.symbol,
          fields.variant,
          fields.runId,
          fields.jobId,
          fields.attempt,
          fields.promote,
          fields.canary,
          fields.artifactsPrefix,
          JSON.stringify(fields.artifacts),
          JSON.stringify(fields.metrics),
          fields.featureset,
          JSON.stringify(fields.costs),
          JSON.stringify(fields.evaluationWindow),
        ],
      );
      // The row is what was just written: its generated id, number and time complete it without reading it back.
      if (row) {
        const production = row['p.id'] === null ? null : entityFromRow(this.ds, ModelVersionEntity, Object.fromEntries(columns.map((c) => [c, row[`p.${c}`]])));
        return {
          version: repo.create({
            ...fields,
            id: row.new_id as number,
            version: row.new_version as number,
            stage: 'candidate',
            createdAt: row.new_created_at as Date,
            promotedAt: null,
            prunedAt: null,
          }),
          registered: true,
          created: true,
          production,
        };
      }
      const existing = await repo.findOneBy({ jobId: fields.jobId, attempt: fields.attempt });
      if (existing) return { version: existing, registered: true, created: false };
      const [winner] = await repo.find({ where: { jobId: fields.jobId }, order: { id: 'ASC' }, take: 1 });
      // This attempt's own row, committed by a concurrent delivery since the look above: not an ignored success.
      if (winner?.attempt === fields.attempt) return { version: winner, registered: true, created: false };
      if (winner) {
        await this.ds.query(
          `INSERT INTO promoter.ignored_successes (job_id, attempt, symbol, run_id, lease_id, artifacts_prefix, metrics, winner_version_id, winner_attempt)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (job_id, attempt) DO NOTHING`,
          [fields.jobId, fields.attempt, fields.symbol, fields.runId, leaseId ?? null, fields.artifactsPrefix, JSON.stringify(fields.metrics), winner.id, winner.attempt],
        );
        return { version: winner, registered: false, created: false };
      }
      if (tries >= MAX_NUMBERING_TRIES) throw new Error(`attempt ${fields.attempt} of job ${fields.jobId} found no free version number of ${keyName(fields)} in ${tries} tries`);
    }
  }

  /** A success of an attempt the scheduler does not count, on record with why; never a version. */
  async recordFenced(fields: Pick<NewVersion, 'jobId' | 'attempt' | 'symbol' | 'runId' | 'artifactsPrefix' | 'metrics'>, leaseId: string | undefined, reason: string): Promise<void> {
    await this.ds.query(
      `INSERT INTO promoter.ignored_successes (job_id, attempt, symbol, run_id, lease_id, artifacts_prefix, metrics, reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (job_id, attempt) DO NOTHING`,
      [fields.jobId, fields.attempt, fields.symbol, fields.runId, leaseId ?? null, fields.artifactsPrefix, JSON.stringify(fields.metrics), reason],
    );
  }

  /** Successes of attempts that were not registered, oldest first: fenced off (with why), or beaten by another success of their job. */
  ignoredSuccesses(jobId: string): Promise<IgnoredSuccess[]> {
    return this.ds.query(
      `SELECT job_id AS "jobId", attempt, symbol, lease_id AS "leaseId", artifacts_prefix AS "artifactsPrefix", winner_version_id AS "winnerVersionId", winner_attempt AS "winnerAttempt", reason, created_at AS "createdAt"
       FROM promoter.ignored_successes WHERE job_id = $1 ORDER BY id`,
      [jobId],
    );
  }

  decisionOf(versionId: number): Promise<DecisionEntity | null> {
    return this.ds.getRepository(DecisionEntity).findOneBy(automatic(versionId));
  }

  /** The key's production version as last committed, read without its lock (once per success: a plain statement, no query builder). */
  async production(key: ModelKey): Promise<ModelVersionEntity | null> {
    const [row]: Record<string, unknown>[] = await this.ds.query(`SELECT * FROM promoter.model_versions WHERE symbol = $1 AND variant = $2 AND stage = 'production' LIMIT 1`, [
      key.symbol,
      key.variant,
    ]);
    return row ? entityFromRow(this.ds, ModelVersionEntity, row) : null;
  }

  /**
   * Records an automatic decision that changes nothing in production, without the key's lock: the
   * unique index on a version's automatic decision keeps it to one, and a second delivery gets the
   * first's. The decisions made meanwhile are written together, in one statement.
   */
  recordDecisionOnce(decision: NewDecision): Promise<DecisionEntity> {
    return this.decisions.call(decision);
  }

  private async recordDecisionsOnce(batch: NewDecision[]): Promise<DecisionEntity[]> {
    // In version order, so two writers of the same versions wait on each other's rows in one order.
    const items = [...batch].map((d) => ({ commandId: null, ...d })).sort((x, y) => x.versionId - y.versionId);
    const generated: { id: number; version_id: number; created_at: Date }[] = await this.ds.query(
      `INSERT INTO promoter.decisions (version_id, symbol, variant, outcome, rule, mode, applied, reason, candidate_metrics, production_version, production_metrics, production_uri, command_id)
       SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[], $8::text[], $9::jsonb[], $10::int[], $11::jsonb[], $12::text[], $13::text[])
       ON CONFLICT DO NOTHING RETURNING id, version_id, created_at`,
      [
        items.map((d) => d.versionId),
        items.map((d) => d.symbol),
        items.map((d) => d.variant),
        items.map((d) => d.outcome),
        items.map((d) => d.rule),
        items.map((d) => d.mode),
        items.map((d) => d.applied),
        items.map((d) => d.reason),
        items.map((d) => JSON.stringify(d.candidateMetrics)),
        items.map((d) => d.productionVersion),
        items.map((d) => (d.productionMetrics ? JSON.stringify(d.productionMetrics) : null)),
        items.map((d) => d.productionUri),
        items.map((d) => d.commandId),
      ],
    );
    const repo = this.ds.getRepository(DecisionEntity);
    const written = new Map<number, DecisionEntity>();
    for (const row of generated) {
      const d = items.find((i) => i.versionId === row.version_id)!;
      written.set(row.version_id, repo.create({ ...d, id: row.id, createdAt: row.created_at }));
    }
    const earlier = await this.decisionsOfVersions(batch.filter((d) => !written.has(d.versionId)).map((d) => d.versionId));
    return batch.map((d) => {
      const decision = written.get(d.versionId) ?? earlier.get(d.versionId);
      if (!decision) throw new Error(`the decision on version id ${d.versionId} was neither written nor found`);
      return decision;
    });
  }

  /** The automatic decision of each of these versions that has one, in one read. */
  async decisionsOfVersions(versionIds: number[]): Promise<Map<number, DecisionEntity>> {
    if (versionIds.length === 0) return new Map();
    const rows = await this.ds.getRepository(DecisionEntity).find({ where: { versionId: In(versionIds), rule: Not(In([...MANUAL_RULES])) }, order: { id: 'ASC' } });
    const byVersion = new Map<number, DecisionEntity>();
    for (const d of rows) if (!byVersion.has(d.versionId)) byVersion.set(d.versionId, d);
    return byVersion;
  }

  /** The versions a run registered, in symbol, variant and version order. */
  versionsOfRun(runId: string): Promise<ModelVersionEntity[]> {
    return this.ds.getRepository(ModelVersionEntity).find({ where: { runId }, order: { symbol: 'ASC', variant: 'ASC', version: 'ASC' } });
  }

  /** These versions (by key and number) where they exist, in one read. */
  findVersions(wanted: (ModelKey & { version: number })[]): Promise<ModelVersionEntity[]> {
    if (wanted.length === 0) return Promise.resolve([]);
    return this.ds
      .getRepository(ModelVersionEntity)
      .createQueryBuilder('v')
      .where('(v.symbol, v.variant, v.version) IN (SELECT * FROM unnest(CAST(:symbols AS text[]), CAST(:variants AS text[]), CAST(:versions AS int[])))', {
        symbols: wanted.map((w) => w.symbol),
        variants: wanted.map((w) => w.variant),
        versions: wanted.map((w) => w.version),
      })
      .getMany();
  }

  /** Versions newest first, with the total the filter matches. */
  async listVersions(f: VersionFilter): Promise<{ items: ModelVersionEntity[]; total: number }> {
    const where = { ...(f.symbol ? { symbol: f.symbol } : {}), ...(f.variant ? { variant: f.variant } : {}), ...(f.stage ? { stage: f.stage } : {}) };
    const [items, total] = await this.ds.getRepository(ModelVersionEntity).findAndCount({ where, order: { createdAt: 'DESC', id: 'DESC' }, take: f.limit, skip: f.offset });
    return { items, total };
  }

  findVersion(key: ModelKey, version: number): Promise<ModelVersionEntity | null> {
    return this.ds.getRepository(ModelVersionEntity).findOneBy({ symbol: key.symbol, variant: key.variant, version });
  }

  /** Every decision about a version, automatic and manual, oldest first. */
  decisionsOf(versionId: number): Promise<DecisionEntity[]> {
    return this.ds.getRepository(DecisionEntity).find({ where: { versionId }, order: { id: 'ASC' } });
  }

  /** Every symbol and variant with a version. */
  keys(): Promise<ModelKey[]> {
    return this.ds.query(`SELECT DISTINCT symbol, variant FROM promoter.model_versions ORDER BY symbol, variant`);
  }

  /** Where every registered version's trainer artifacts are (or were) stored. */
  async artifactsPrefixes(): Promise<string[]> {
    const rows: { prefix: string }[] = await this.ds.query(`SELECT DISTINCT artifacts_prefix AS prefix FROM promoter.model_versions`);
    return rows.map((r) => r.prefix);
  }

  /** Runs `work` in one transaction holding the key's production lock; nothing it wrote survives a throw. */
  underProductionLock<T>(key: ModelKey, work: (tx: ProductionTransaction) => Promise<T>): Promise<T> {
    const { symbol, variant } = key;
    return this.ds.transaction(async (em) => {
      await em.query(`SELECT pg_advisory_xact_lock(hashtext('promoter.production'), hashtext($1))`, [keyName(key)]);
      const versions = em.getRepository(ModelVersionEntity);
      const decisions = em.getRepository(DecisionEntity);
      return work({
        decisionOf: (versionId) => decisions.findOneBy(automatic(versionId)),
        production: () => versions.findOneBy({ symbol, variant, stage: 'production' }),
        version: (version) => versions.findOneBy({ symbol, variant, version }),
        previousProduction: () => previousProduction(em, key),
        versions: () => versions.find({ where: { symbol, variant }, order: { version: 'ASC' } }),
        async decidedIds() {
          const rows: { id: number }[] = await em.query(`SELECT DISTINCT version_id AS id FROM promoter.decisions WHERE symbol = $1 AND variant = $2 AND rule <> ALL($3)`, [
            symbol,
            variant,
            [...MANUAL_RULES],
          ]);
          return new Set(rows.map((r) => r.id));
        },
        async markPruned(versionId, at) {
          await versions.update({ id: versionId, stage: Not('production') }, { stage: 'archived', prunedAt: at });
        },
        recordDecision: (decision) => decisions.save(decisions.create(decision)),
        async commandDecision(commandId) {
          const decision = await decisions.findOneBy({ commandId });
          const version = decision && (await versions.findOneBy({ id: decision.versionId }));
          return decision && version ? { decision, version } : null;
        },
        async makeProduction(version, at) {
          // Archive first: the partial unique index allows one production row per key at every step.
          await versions
            .createQueryBuilder()
            .update()
            .set({ stage: 'archived' })
            .where(`symbol = :symbol AND variant = :variant AND stage = 'production' AND id <> :id`, { symbol, variant, id: version.id })
            .execute();
          await versions.update({ id: version.id }, { stage: 'production', promotedAt: at });
        },
      });
    });
  }
}

/** From the applied decisions, newest first: the first version among them that is not production now. */
async function previousProduction(em: EntityManager, key: ModelKey): Promise<ModelVersionEntity | null> {
  const rows: { id: number }[] = await em.query(
    `SELECT v.id FROM promoter.decisions d JOIN promoter.model_versions v ON v.id = d.version_id
     WHERE d.symbol = $1 AND d.variant = $2 AND d.applied AND v.stage <> 'production' ORDER BY d.id DESC LIMIT 1`,
    [key.symbol, key.variant],
  );
  const [row] = rows;
  return row ? em.getRepository(ModelVersionEntity).findOneBy({ id: row.id }) : null;
}
