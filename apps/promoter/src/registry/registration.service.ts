import { Injectable, Logger } from '@nestjs/common';
import type { EventMessage, JobView } from '@trainyard/contracts';
import { NatsBus, PermanentError } from '@trainyard/messaging';
import { assertArtifactKey } from '@trainyard/storage';
import { keyName, variantField } from './model-key';
import { RegistryStore, type Registration } from './registry.store';
import { sourceKey } from './source-key';

/**
 * Turns each successful attempt into a numbered model version, once, however often its event arrives,
 * and one job into at most one version: the first attempt to succeed wins (fencing of attempts).
 */
@Injectable()
export class RegistrationService {
  private readonly log = new Logger('Registration');

  constructor(
    private readonly store: RegistryStore,
    private readonly bus: NatsBus,
  ) {}

  /**
   * The new (or already registered) version of this attempt; null when another attempt of the job
   * holds the job's version. How it is promoted comes from the scheduler's record of the job (the
   * attempt's verdict), not from the success: the agent reports how the model was trained.
   */
  async register(m: EventMessage<'job.succeeded'>, promotion: Pick<JobView, 'promote' | 'canary'>): Promise<Omit<Registration, 'registered'> | null> {
    for (const a of m.artifacts) {
      try {
        assertArtifactKey(sourceKey(m, a.name));
      } catch (err) {
        throw new PermanentError(`job ${m.jobId}#${m.attempt}: ${(err as Error).message}`);
      }
    }
    const { version, registered, created, production } = await this.store.register(
      {
        symbol: m.symbol,
        variant: m.variant ?? 'default',
        runId: m.runId,
        jobId: m.jobId,
        attempt: m.attempt,
        promote: promotion.promote,
        canary: promotion.canary,
        artifactsPrefix: m.artifactsPrefix,
        artifacts: m.artifacts,
        metrics: m.metrics,
        featureset: m.featureset,
        costs: m.costs,
        evaluationWindow: m.evaluationWindow,
      },
      m.leaseId,
    );
    if (!registered) {
      this.log.warn({
        event: 'duplicate_success_ignored',
        jobId: m.jobId,
        runId: m.runId,
        symbol: m.symbol,
        attempt: m.attempt,
        leaseId: m.leaseId,
        artifactsPrefix: m.artifactsPrefix,
        winnerVersion: version.version,
        winnerAttempt: version.attempt,
        msg: `${m.jobId}#${m.attempt} succeeded after #${version.attempt} had (${keyName(version)} v${version.version}): recorded, not registered`,
      });
      return null;
    }
    // Published on every delivery: a crash after the insert must not lose it, and the id de-duplicates.
    await this.bus.publish(
      'model.registered',
      { symbol: version.symbol, ...variantField(version), version: version.version, runId: version.runId, jobId: version.jobId, metrics: version.metrics, artifactsPrefix: version.artifactsPrefix },
      { id: `${version.jobId}-a${version.attempt}-registered` },
    );
    this.log.log(`registered ${keyName(version)} v${version.version} from ${version.jobId}#${version.attempt}`);
    return { version, created, production };
  }
}
