import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { InjectArtifactStore, sha256Buffer, type ArtifactStore } from '@trainyard/storage';
import { PROMOTER_CONFIG, type PromoterConfig } from '../config/promoter.config';
import { keyName, type ModelKey } from '../registry/model-key';
import { RegistryStore } from '../registry/registry.store';
import { parseAttemptKey, type AttemptKey } from './attempt-keys';
import { selectPrunable } from './retention-selection';

const gzipAsync = promisify(gzip);
const DAY_MS = 24 * 60 * 60 * 1000;
const PRODUCTION_PREFIX = 'models/production/';
const WARN_AT_FRACTION = 0.8;

export interface RetentionReport {
  bytesUsed: number;
  quotaBytes: number | null;
  usedFraction: number | null;
  versionsPruned: number;
  checkpointsArchived: number;
  abandonedDeleted: number;
}

/**
 * Keeps the artifact store from growing without bound: prunes the artifacts of versions nobody will
 * promote, compresses old checkpoints into `archive/`, deletes attempts no version came from, and
 * reports how full the store is. Nothing under `models/production/` is ever touched.
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Retention');
  private timer?: NodeJS.Timeout;
  private running: Promise<RetentionReport> | null = null;

  constructor(
    private readonly registry: RegistryStore,
    @InjectArtifactStore() private readonly artifacts: ArtifactStore,
    private readonly clock: Clock,
    private readonly bus: NatsBus,
    @Inject(PROMOTER_CONFIG) private readonly cfg: PromoterConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.run().catch((err: Error) => this.log.error(`retention failed: ${err.message}`, err.stack));
    }, this.cfg.RETENTION_INTERVAL_MINUTES * 60_000);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One pass at a time: a request during a pass gets that pass's report. */
  run(): Promise<RetentionReport> {
    this.running ??= this.sweep().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async sweep(): Promise<RetentionReport> {
    const now = this.clock.now();
    let versionsPruned = 0;
    // Top K per symbol and variant: a specialist's versions never push the plain model's out, nor the reverse.
    for (const key of await this.registry.keys()) versionsPruned += await this.pruneVersions(key, now);

    const attempts = (await this.artifacts.list('models/')).map((a) => parseAttemptKey(a.key)).filter((a): a is AttemptKey => a !== null);
    const deletedFolders = await this.deleteAbandoned(attempts, now);
    const checkpointsArchived = await this.archiveCheckpoints(
      attempts.filter((a) => !deletedFolders.has(a.folder)),
      now,
    );

    const bytesUsed = (await this.artifacts.list('')).reduce((sum, a) => sum + a.bytes, 0);
    const quotaBytes = this.cfg.STORAGE_QUOTA_GB === undefined ? null : Math.round(this.cfg.STORAGE_QUOTA_GB * 1e9);
    const usedFraction = quotaBytes === null ? null : bytesUsed / quotaBytes;
    const report: RetentionReport = { bytesUsed, quotaBytes, usedFraction, versionsPruned, checkpointsArchived, abandonedDeleted: deletedFolders.size };
    if (usedFraction !== null && quotaBytes !== null && usedFraction >= WARN_AT_FRACTION) {
      this.log.warn(`artifact storage ${(usedFraction * 100).toFixed(1)}% full: ${bytesUsed} of ${quotaBytes} bytes`);
      // One warning per hour at most: the id de-duplicates repeats within the hour.
      await this.bus.publish('storage.quota_warning', { bytesUsed, quotaBytes, usedFraction }, { id: `quota-warning-${now.toISOString().slice(0, 13)}` });
    }
    this.log.log(`retention: ${JSON.stringify(report)}`);
    return report;
  }

  /** Under the production lock, so a rollback cannot pick a version while its files are being deleted. */
  private pruneVersions(key: ModelKey, now: Date): Promise<number> {
    return this.registry.underProductionLock(key, async (tx) => {
      const versions = await tx.versions();
      const decided = await tx.decidedIds();
      const previous = await tx.previousProduction();
      const prunable = selectPrunable(
        versions.map((v) => ({ ...v, sharpe: v.metrics.sharpe, decided: decided.has(v.id), pruned: v.prunedAt !== null })),
        { keepTop: this.cfg.RETENTION_KEEP_TOP, previousProductionId: previous?.id ?? null },
      );
      for (const v of prunable) {
        await this.deleteUnder(`${v.artifactsPrefix}/`);
        await tx.markPruned(v.id, now);
        this.log.log(`${keyName(key)} v${v.version}: artifacts under ${v.artifactsPrefix}/ deleted (sharpe ${v.metrics.sharpe})`);
      }
      return prunable.length;
    });
  }

  /** Attempt folders older than the limit that no registered version points into. */
  private async deleteAbandoned(attempts: AttemptKey[], now: Date): Promise<Set<string>> {
    const registered = await this.registry.artifactsPrefixes();
    const cutoff = now.getTime() - this.cfg.RETENTION_ABANDONED_DAYS * DAY_MS;
    const folders = new Set(
      attempts
        .filter((a) => a.startedAt.getTime() < cutoff)
        .map((a) => a.folder)
        .filter((f) => !registered.some((p) => p === f || p.startsWith(`${f}/`))),
    );
    for (const folder of folders) {
      await this.deleteUnder(`${folder}/`);
      this.log.log(`abandoned attempt ${folder}/ deleted`);
    }
    return folders;
  }

  /** Each old checkpoint becomes `archive/<key>.gz`; the original goes only once the archive is stored whole. */
  private async archiveCheckpoints(attempts: AttemptKey[], now: Date): Promise<number> {
    const cutoff = now.getTime() - this.cfg.RETENTION_CHECKPOINT_ARCHIVE_DAYS * DAY_MS;
    let archived = 0;
    for (const a of attempts) {
      if (!a.checkpoint || a.startedAt.getTime() >= cutoff) continue;
      const compressed = await gzipAsync(await this.artifacts.get(a.key));
      const archiveKey = `archive/${a.key}.gz`;
      await this.artifacts.put(archiveKey, compressed, 'application/gzip');
      if (sha256Buffer(await this.artifacts.get(archiveKey)) !== sha256Buffer(compressed)) throw new Error(`archive of ${a.key} was not stored intact`);
      await this.artifacts.delete(a.key);
      archived++;
    }
    return archived;
  }

  private async deleteUnder(prefix: string): Promise<void> {
    if (!prefix.startsWith('models/') || prefix.startsWith(PRODUCTION_PREFIX)) throw new Error(`retention refuses to delete under ${prefix}`);
    for (const a of await this.artifacts.list(prefix)) await this.artifacts.delete(a.key);
  }
}
