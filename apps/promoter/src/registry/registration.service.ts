import { Injectable, Logger } from '@nestjs/common';
import type { EventMessage } from '@trainyard/contracts';
import { NatsBus, PermanentError } from '@trainyard/messaging';
import { assertArtifactKey } from '@trainyard/storage';
import type { ModelVersionEntity } from './model-version.entity';
import { RegistryStore } from './registry.store';
import { sourceKey } from './source-key';

/** Turns each successful attempt into a numbered model version, once, however often its event arrives. */
@Injectable()
export class RegistrationService {
  private readonly log = new Logger('Registration');

  constructor(
    private readonly store: RegistryStore,
    private readonly bus: NatsBus,
  ) {}

  async register(m: EventMessage<'job.succeeded'>): Promise<ModelVersionEntity> {
    for (const a of m.artifacts) {
      try {
        assertArtifactKey(sourceKey(m, a.name));
      } catch (err) {
        throw new PermanentError(`job ${m.jobId}#${m.attempt}: ${(err as Error).message}`);
      }
    }
    const version = await this.store.register({
      symbol: m.symbol,
      runId: m.runId,
      jobId: m.jobId,
      attempt: m.attempt,
      promote: m.promote,
      canary: m.canary,
      artifactsPrefix: m.artifactsPrefix,
      artifacts: m.artifacts,
      metrics: m.metrics,
      featureset: m.featureset,
      costs: m.costs,
      evaluationWindow: m.evaluationWindow,
    });
    // Published on every delivery: a crash after the insert must not lose it, and the id de-duplicates.
    await this.bus.publish(
      'model.registered',
      { symbol: version.symbol, version: version.version, runId: version.runId, jobId: version.jobId, metrics: version.metrics, artifactsPrefix: version.artifactsPrefix },
      { id: `${version.jobId}-a${version.attempt}-registered` },
    );
    this.log.log(`registered ${version.symbol} v${version.version} from ${version.jobId}#${version.attempt}`);
    return version;
  }
}
