import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DecisionEntity } from './decision.entity';
import { ModelVersionEntity } from './model-version.entity';

export type NewVersion = Omit<ModelVersionEntity, 'id' | 'version' | 'stage' | 'createdAt' | 'promotedAt'>;
export type NewDecision = Omit<DecisionEntity, 'id' | 'createdAt'>;

/** The reads and writes a decision makes while it holds its symbol's production lock. */
export interface ProductionTransaction {
  decisionOf(versionId: number): Promise<DecisionEntity | null>;
  /** The symbol's production version as the previous lock holder left it. */
  production(): Promise<ModelVersionEntity | null>;
  recordDecision(decision: NewDecision): Promise<DecisionEntity>;
  /** Archives the current production version and puts this one in its place. */
  makeProduction(version: ModelVersionEntity, at: Date): Promise<void>;
}

/**
 * The promoter's tables. Two transaction-scoped advisory locks per symbol (two-key form, a space of
 * its own) serialise what must not interleave: numbering versions, and changing production. On the
 * embedded PGlite every connection shares one session, where transactions run one at a time anyway.
 */
@Injectable()
export class RegistryStore {
  constructor(private readonly ds: DataSource) {}

  async ping(): Promise<void> {
    await this.ds.query('SELECT 1');
  }

  /** Registers an attempt as its symbol's next version; the same attempt again gets the version it already has. */
  register(fields: NewVersion): Promise<ModelVersionEntity> {
    return this.ds.transaction(async (em) => {
      await em.query(`SELECT pg_advisory_xact_lock(hashtext('promoter.versions'), hashtext($1))`, [fields.symbol]);
      const repo = em.getRepository(ModelVersionEntity);
      const existing = await repo.findOneBy({ jobId: fields.jobId, attempt: fields.attempt });
      if (existing) return existing;
      const [{ last }]: { last: number }[] = await em.query(
        `SELECT coalesce(max(version), 0)::int AS last FROM promoter.model_versions WHERE symbol = $1`,
        [fields.symbol],
      );
      return repo.save(repo.create({ ...fields, version: last + 1, stage: 'candidate', promotedAt: null }));
    });
  }

  decisionOf(versionId: number): Promise<DecisionEntity | null> {
    return this.ds.getRepository(DecisionEntity).findOneBy({ versionId });
  }

  /** Runs `work` in one transaction holding the symbol's production lock; nothing it wrote survives a throw. */
  underProductionLock<T>(symbol: string, work: (tx: ProductionTransaction) => Promise<T>): Promise<T> {
    return this.ds.transaction(async (em) => {
      await em.query(`SELECT pg_advisory_xact_lock(hashtext('promoter.production'), hashtext($1))`, [symbol]);
      const versions = em.getRepository(ModelVersionEntity);
      const decisions = em.getRepository(DecisionEntity);
      return work({
        decisionOf: (versionId) => decisions.findOneBy({ versionId }),
        production: () => versions.findOneBy({ symbol, stage: 'production' }),
        recordDecision: (decision) => decisions.save(decisions.create(decision)),
        async makeProduction(version, at) {
          // Archive first: the partial unique index allows one production row per symbol at every step.
          await versions
            .createQueryBuilder()
            .update()
            .set({ stage: 'archived' })
            .where(`symbol = :symbol AND stage = 'production' AND id <> :id`, { symbol, id: version.id })
            .execute();
          await versions.update({ id: version.id }, { stage: 'production', promotedAt: at });
        },
      });
    });
  }
}
