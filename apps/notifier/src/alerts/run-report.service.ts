import { Inject, Injectable, Logger } from '@nestjs/common';
import { modelKey, type EventMessage, type VersionView } from '@trainyard/contracts';
import { NatsBus, runDecisions, type RunModels, type RunVersion } from '@trainyard/messaging';
import { ArtifactNotFoundError, InjectArtifactStore, type ArtifactStore } from '@trainyard/storage';
import { EquityCurve, renderEquityComparison, type EquityComparison } from '../charts/model-charts';
import { NOTIFIER_CONFIG, type NotifierConfig } from '../config/notifier.config';
import { AlertsService } from './alerts.service';
import { escapeHtml as esc } from './html';
import { formatRunCompleted, type RunPromotions } from './message-format';

/** Panels in one chart: a run that promotes 280 symbols still sends one picture. */
const MAX_CHARTED = 6;

/**
 * The run-completed message. The promoter decides the run's versions as their jobs succeed, so their
 * decisions may trail the run's completion: the report asks the promoter (models.of_run) until every
 * succeeded symbol is decided or NOTIFIER_PROMOTION_WAIT_SECONDS pass, names the promoted symbols,
 * and sends one chart of the promoted candidates' equity curves against the production versions
 * they beat, from the `equity.json` the trainer writes beside `metrics.json`.
 */
@Injectable()
export class RunReportService {
  private readonly log = new Logger('RunReport');

  constructor(
    private readonly alerts: AlertsService,
    private readonly bus: NatsBus,
    @InjectArtifactStore() private readonly artifacts: ArtifactStore,
    @Inject(NOTIFIER_CONFIG) private readonly cfg: NotifierConfig,
  ) {}

  /**
   * Keyed on the message id, which the scheduler derives from the completion's time: a redelivery is
   * sent once, and a run reopened by a retry reports its new completion too.
   */
  async report(m: EventMessage<'run.completed'>): Promise<void> {
    const models = await this.decidedVersions(m);
    await this.alerts.notify('run.completed', `run.completed:${m.runId}:${m.id}`, formatRunCompleted(m, models && promotionsOf(models)));
    const promoted = (models?.versions ?? []).filter(isPromoted).sort((a, b) => a.symbol.localeCompare(b.symbol));
    if (promoted.length === 0) return;
    const comparisons = await this.comparisons(promoted);
    if (comparisons.length === 0) return;
    const names = comparisons.map((c) => `${esc(c.symbol)} v${c.candidate.version}${c.production ? ` vs v${c.production.version}` : ''}`);
    const more = promoted.length - comparisons.length;
    const caption = `📈 Run ${esc(m.runId)}: equity after costs, promoted candidates against production — ${names.join(', ')}${more > 0 ? ` (${more} more promoted, not drawn)` : ''}`;
    await this.alerts.notifyPhoto('run.completed', `run.completed.chart:${m.runId}:${m.id}`, caption.slice(0, 1000), () => renderEquityComparison(comparisons));
  }

  private decidedVersions(m: EventMessage<'run.completed'>): Promise<RunModels | null> {
    return runDecisions(this.bus, m, {
      waitMs: this.cfg.NOTIFIER_PROMOTION_WAIT_SECONDS * 1000,
      queryTimeoutMs: this.cfg.NOTIFIER_QUERY_TIMEOUT_MS,
      onIncomplete: (why) => this.log.warn(`run ${m.runId}: ${why}; reporting without them`),
    });
  }

  private async comparisons(promoted: RunVersion[]): Promise<EquityComparison[]> {
    const out: EquityComparison[] = [];
    for (const v of promoted) {
      if (out.length === MAX_CHARTED) break;
      const candidate = await this.curve(v);
      if (!candidate) continue;
      const base = v.baseline && (await this.curve(v.baseline));
      out.push({ symbol: v.symbol, candidate: { version: v.version, curve: candidate }, production: v.baseline && base ? { version: v.baseline.version, curve: base } : null });
    }
    return out;
  }

  /**
   * A version's `equity.json`: beside its metrics, or (once retention pruned the trainer's files) in
   * its production copy. Null when it has none, as versions of trainers that write no curve.
   */
  private async curve(v: VersionView): Promise<EquityCurve | null> {
    const keys = [`${v.artifactsPrefix}/equity.json`, ...(v.pruned ? [`models/production/${v.symbol}/v${v.version}/equity.json`] : [])];
    for (const key of keys) {
      try {
        const parsed = EquityCurve.safeParse(JSON.parse((await this.artifacts.get(key)).toString('utf8')));
        if (parsed.success) return parsed.data;
        this.log.warn(`${key} is not an equity curve: ${parsed.error.issues[0]?.message}`);
        return null;
      } catch (err) {
        if (err instanceof ArtifactNotFoundError) continue;
        this.log.warn(`cannot read ${key}: ${(err as Error).message}`);
        return null;
      }
    }
    return null;
  }
}

const isPromoted = (v: RunVersion) => v.decision?.outcome === 'promote' && v.decision.applied;

/** The decisions to report: the counts are the run's; the lists, what the promoter's answer carried. */
export function promotionsOf(models: RunModels): RunPromotions {
  const { versions, outcomes } = models;
  return {
    promoted: versions
      .filter(isPromoted)
      .map((v) => ({ symbol: v.symbol, ...(v.variant ? { variant: v.variant } : {}), version: v.version }))
      .sort((a, b) => modelKey(a.symbol, a.variant).localeCompare(modelKey(b.symbol, b.variant))),
    promotedCount: outcomes.promoted,
    wouldPromote: outcomes.wouldPromote,
    rejected: versions
      .filter((v) => v.decision?.outcome === 'reject')
      .map((v) => ({ symbol: v.symbol, ...(v.variant ? { variant: v.variant } : {}), version: v.version, rule: v.decision!.rule, reason: v.decision!.reason }))
      .sort((a, b) => modelKey(a.symbol, a.variant).localeCompare(modelKey(b.symbol, b.variant))),
    rejectedCount: outcomes.rejected,
    notCompared: outcomes.notComparable,
  };
}
