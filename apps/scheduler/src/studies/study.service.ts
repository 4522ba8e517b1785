import { ConflictException, Inject, Injectable, Logger, NotFoundException, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { randomBytes, randomInt } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { canonicalJson, defaultDataDate, releaseRank, specHash, type EventMessage, type JobDefinition, type RunRequest } from '@trainyard/contracts';
import { CapacityView, NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { renderChart } from '@trainyard/charts';
import { best, importance, parseSpace, shouldPrune, suggest, type StudyConfig, type TrialRecord } from '@trainyard/search';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { CostsService } from '../costs/costs.service';
import { CompletionService } from '../runs/completion.service';
import { DispatcherService } from '../runs/dispatcher.service';
import { JobEvents } from '../runs/job-events';
import { JobLifecycleService } from '../runs/job-lifecycle.service';
import { gpuMemoryFor, planJobs } from '../runs/run-plan';
import { JobRepository } from '../repositories/job.repository';
import { RunRepository } from '../repositories/run.repository';
import { applyParams, OBJECTIVES, type StudyRequest } from './study-request';
import { StudyStore, type StudyConfigRow, type StudyRow, type TrialRow } from './study.store';

export const trialJobId = (studyId: string, number: number) => `${studyId}-t${number}`;

/**
 * Hyperparameter studies on the shared fleet. A study is a run of purpose `search` and priority
 * `low` (production retraining always goes first), whose jobs are its trials, at most `parallel` at
 * once. Each trial's params come from the sampler given every trial so far; a finished trial is
 * scored from its job's final metrics, and a running one is pruned from the metric it reports step
 * by step. All of it is derived from the tables under the study's row lock, so handlers, the timer
 * and replicas agree, and a restart of anything repeats no finished trial.
 */
@Injectable()
export class StudyService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Studies');
  private timer?: NodeJS.Timeout;
  private ticking = false;

  constructor(
    private readonly studies: StudyStore,
    private readonly runs: RunRepository,
    private readonly jobs: JobRepository,
    private readonly dispatcher: DispatcherService,
    private readonly completion: CompletionService,
    private readonly lifecycle: JobLifecycleService,
    private readonly events: JobEvents,
    private readonly costs: CostsService,
    private readonly capacity: CapacityView,
    private readonly clock: Clock,
    private readonly bus: NatsBus,
    @Inject(SCHEDULER_CONFIG) private readonly cfg: SchedulerConfig,
  ) {}

  onModuleInit(): void {
    this.events.onEnded(async ({ jobId, purpose }) => {
      // Trials are jobs of a search run: any other job is not looked up.
      if (purpose !== undefined && purpose !== 'search') return;
      const trial = await this.studies.studyOfJob(jobId);
      if (trial) await this.advance(trial.studyId);
    });
    this.events.onProgress((m) => this.considerPruning(m));
  }

  /** A crash between a trial's end and the next trial's creation is caught up here. */
  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), Math.max(1000, this.cfg.SCHEDULER_TICK_MS * 5));
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      for (const id of await this.studies.runningIds()) await this.advance(id);
    } catch (err) {
      this.log.warn(`study check failed, will try again: ${(err as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  /** Creates the study, its run and its first trials; the same id with the same request is the same study. */
  async create(req: StudyRequest): Promise<StudyRow> {
    const now = this.clock.now();
    const id = req.studyId ?? `study-${req.symbol.toLowerCase()}-${randomBytes(4).toString('hex')}`;
    const existing = await this.studies.find(id);
    if (existing) {
      if (canonicalJson(existing.request) !== canonicalJson(req)) throw new ConflictException(`study ${id} exists with a different request; use another studyId`);
      return existing;
    }
    if (await this.runs.find(id)) throw new ConflictException(`a run named ${id} exists; use another studyId`);
    const config: StudyConfigRow = {
      ...req,
      space: parseSpace(req.space),
      seed: req.seed ?? randomInt(0, 2 ** 32),
      direction: req.direction ?? OBJECTIVES[req.objective],
    };
    delete (config as Partial<StudyRequest>).studyId;
    const date = req.date ?? defaultDataDate(now);
    const request: RunRequest = {
      schemaVersion: 1,
      id: `${id}-request`,
      occurredAt: now.toISOString(),
      runId: id,
      trigger: 'api',
      date,
      symbols: [req.symbol],
      mode: 'parallel',
      maxConcurrent: req.parallel,
      priority: 'low',
      purpose: 'search',
      promote: 'off',
      canary: false,
      force: true,
      dryRun: false,
      featureset: req.featureset,
      ensureFeatures: false,
      driver: req.driver,
      ...(req.timeoutMinutes ? { timeoutMinutes: req.timeoutMinutes } : {}),
      requestedBy: 'study',
    };
    const costs = await this.costs.costsFor([req.symbol]);
    const gpuMemoryGb = gpuMemoryFor(request, this.cfg, await this.capacity.current());
    const [plan] = planJobs({ runId: id, date, request, symbols: [req.symbol], pastSeconds: await this.jobs.pastTrainSeconds([req.symbol]), costs, gpuMemoryGb }, this.cfg);
    if (!plan) throw new Error(`study ${id}: planning ${req.symbol} gave no job to take as the trials' template`);
    const study: Omit<StudyRow, 'completedAt'> = { id, symbol: req.symbol, status: 'running', config, request: req, template: plan.definition, createdAt: now };
    await this.studies.ds.transaction(async (em) => {
      const inserted = await this.runs.insert(
        {
          id,
          date,
          trigger: 'api',
          status: 'running',
          mode: 'parallel',
          maxConcurrent: req.parallel,
          priority: 'low',
          request,
          totalJobs: req.trials,
          skipped: [],
          startedAt: now,
        },
        em,
      );
      if (!inserted) throw new ConflictException(`a run named ${id} exists; use another studyId`);
      await this.studies.insertStudy(em, study);
      await this.topUp(em, { ...study, completedAt: null }, [], plan.expectedSeconds);
    });
    this.log.log({
      event: 'study_created',
      runId: id,
      symbol: req.symbol,
      msg: `study ${id}: ${req.trials} trials of ${req.symbol}, ${req.parallel} at once, ${req.sampler} sampler, ${req.pruner.type} pruner, ${config.direction} ${req.objective}`,
    });
    await this.dispatcher.release(id);
    return (await this.studies.find(id))!;
  }

  /** Scores the trials whose jobs ended, starts the next ones, and closes the study once every trial is done. */
  async advance(studyId: string): Promise<void> {
    const completed = await this.studies.ds.transaction(async (em) => {
      const study = await this.studies.find(studyId, em, true);
      if (!study || study.status !== 'running') return false;
      const now = this.clock.now();
      for (const t of await this.studies.trials(studyId, em)) if (t.state === 'running') await this.score(em, study, t, now);
      const trials = await this.studies.trials(studyId, em);
      const grew = await this.topUp(em, study, trials, null);
      const after = grew ? await this.studies.trials(studyId, em) : trials;
      if (after.some((t) => t.state === 'running')) return false;
      await this.studies.setStatus(em, studyId, 'completed', now);
      const top = best(await this.history(em, study, after), study.config.direction);
      this.log.log({
        event: 'study_completed',
        runId: studyId,
        msg: `study ${studyId} done: ${after.length} trials${top ? `, best #${top.number} ${study.config.objective} ${top.value}` : ', none scored'}`,
      });
      return true;
    });
    await this.dispatcher.release(studyId);
    if (completed) await this.completion.check(studyId);
  }

  /** A running trial whose job is terminal: complete with its objective, or failed. A pruned one was marked when pruned. */
  private async score(em: EntityManager, study: StudyRow, t: TrialRow, now: Date): Promise<void> {
    if (t.jobStatus === 'succeeded') {
      const value = t.jobMetrics?.[study.config.objective];
      if (typeof value === 'number' && Number.isFinite(value)) await this.studies.finishTrial(em, study.id, t.number, 'complete', { value }, now);
      else await this.studies.finishTrial(em, study.id, t.number, 'failed', { reason: `no finite ${study.config.objective} in its metrics` }, now);
    } else if (['failed', 'cancelled', 'skipped'].includes(t.jobStatus)) {
      await this.studies.finishTrial(em, study.id, t.number, 'failed', { reason: `${t.jobStatus}: ${t.jobError ?? ''}` }, now);
    }
  }

  /** Creates trials until `parallel` run at once or the study has all of them; true when it made any. */
  private async topUp(em: EntityManager, study: StudyRow, trials: TrialRow[], expectedSeconds: number | null): Promise<boolean> {
    const history = await this.history(em, study, trials);
    let created = trials.length;
    let running = trials.filter((t) => t.state === 'running').length;
    const seconds = expectedSeconds ?? this.cfg.SCHEDULER_DEFAULT_EXPECTED_MINUTES * 60;
    let grew = false;
    while (created < study.config.trials && running < study.config.parallel) {
      const params = suggest(this.samplerConfig(study), history, created);
      if (!params) break;
      const jobId = trialJobId(study.id, created);
      const definition: JobDefinition = applyParams({ ...study.template, jobId }, params);
      await this.jobs.insert(
        {
          id: jobId,
          runId: study.id,
          symbol: study.symbol,
          status: 'pending',
          attempt: 1,
          maxAttempts: this.cfg.SCHEDULER_MAX_RETRIES + 1,
          priorityRank: releaseRank('low', 'search'),
          expectedSeconds: seconds,
          definition,
          specHash: specHash(definition),
        },
        em,
      );
      await this.studies.insertTrial(em, { studyId: study.id, number: created, jobId, params, createdAt: this.clock.now() });
      history.push({ number: created, params, state: 'running', intermediate: [] });
      created++;
      running++;
      grew = true;
    }
    return grew;
  }

  /** Prunes a running trial from the series it reports, as the study's pruner decides; its job is cancelled at once. */
  private async considerPruning(m: EventMessage<'job.progress'>): Promise<void> {
    if (!m.points?.length) return;
    const ref = await this.studies.studyOfJob(m.jobId);
    if (!ref) return;
    const pruned = await this.studies.ds.transaction(async (em) => {
      const study = await this.studies.find(ref.studyId, em, true);
      if (!study || study.status !== 'running' || study.config.pruner.type === 'none') return null;
      const trials = await this.studies.trials(study.id, em);
      const trial = trials.find((t) => t.number === ref.number);
      if (!trial || trial.state !== 'running') return null;
      const history = await this.history(em, study, trials);
      const subject = history.find((h) => h.number === trial.number)!;
      const last = subject.intermediate.at(-1);
      if (!last) return null;
      const decision = shouldPrune(study.config.pruner, subject, history, study.config.direction);
      if (!decision.prune) return null;
      const [step] = last;
      await this.studies.finishTrial(em, study.id, trial.number, 'pruned', { prunedStep: step, reason: decision.reason }, this.clock.now());
      return { jobId: trial.jobId, step, reason: decision.reason };
    });
    if (!pruned) return;
    this.log.log({ event: 'trial_pruned', runId: ref.studyId, jobId: pruned.jobId, msg: `trial ${ref.number} of ${ref.studyId} pruned at step ${pruned.step}: ${pruned.reason}` });
    await this.lifecycle.cancel(pruned.jobId, `pruned at step ${pruned.step}: ${pruned.reason}`.slice(0, 500));
    await this.advance(ref.studyId);
  }

  private samplerConfig(study: StudyRow): StudyConfig {
    return { space: parseSpace(study.config.space), sampler: study.config.sampler, seed: study.config.seed, direction: study.config.direction };
  }

  /** The trials as the sampler and pruner read them, with each one's reported series of the pruned metric. */
  private async history(em: EntityManager, study: StudyRow, trials: TrialRow[]): Promise<TrialRecord[]> {
    const series = await this.studies.intermediate(
      trials.map((t) => t.jobId),
      study.config.pruneMetric,
      em,
    );
    return trials.map((t) => ({
      number: t.number,
      params: t.params,
      state: t.state,
      ...(t.state === 'complete' && t.value !== null ? { value: t.value } : {}),
      intermediate: series.get(t.jobId) ?? [],
    }));
  }

  /** The study with its trials, best trial, optimisation history and parameter importance. */
  async view(id: string) {
    const study = await this.studies.find(id);
    if (!study) throw new NotFoundException(`no study ${id}`);
    const trials = await this.studies.trials(id);
    const history = await this.history(this.studies.ds.manager, study, trials);
    const top = best(history, study.config.direction);
    let bestSoFar: number | null = null;
    const optimisation = history
      .filter((h) => h.state === 'complete' && h.value !== undefined)
      .map((h) => {
        bestSoFar = bestSoFar === null || (study.config.direction === 'maximize' ? h.value! > bestSoFar : h.value! < bestSoFar) ? h.value! : bestSoFar;
        return { trial: h.number, value: h.value!, best: bestSoFar };
      });
    return {
      id: study.id,
      symbol: study.symbol,
      status: study.status,
      objective: study.config.objective,
      direction: study.config.direction,
      sampler: study.config.sampler,
      pruner: study.config.pruner,
      seed: study.config.seed,
      trialsPlanned: study.config.trials,
      parallel: study.config.parallel,
      space: study.config.space,
      createdAt: study.createdAt,
      completedAt: study.completedAt,
      best: top ? { trial: top.number, value: top.value, params: top.params, jobId: trialJobId(id, top.number) } : null,
      trials: trials.map((t) => ({ number: t.number, jobId: t.jobId, params: t.params, state: t.state, value: t.value, prunedStep: t.prunedStep, reason: t.reason, jobStatus: t.jobStatus })),
      history: optimisation,
      importance: history.filter((h) => h.state === 'complete').length >= 2 ? importance(parseSpace(study.config.space), history) : {},
    };
  }

  /**
   * Trains the best trial's params as a production job of its own run (`<study>-best`), which the
   * promoter judges as any other: promoted only if it beats production (policy `auto`), or `dry`.
   */
  async promoteBest(id: string, promote: 'auto' | 'dry'): Promise<{ runId: string; trial: number; params: Record<string, unknown> }> {
    const study = await this.view(id);
    if (!study.best) throw new ConflictException(`study ${id} has no scored trial yet`);
    const stored = (await this.studies.find(id))!;
    const applied = applyParams({ model: {}, lookbackCandles: stored.template.lookbackCandles, driver: stored.config.driver }, study.best.params);
    const runId = `${id}-best`;
    const earlier = await this.runs.find(runId);
    if (earlier && earlier.request.promote !== promote) throw new ConflictException(`run ${runId} already trains the best trial with promote ${earlier.request.promote}`);
    await this.bus.publish(
      'run.requested',
      {
        runId,
        trigger: 'api',
        symbols: [study.symbol],
        mode: 'parallel',
        priority: 'normal',
        purpose: 'production',
        promote,
        canary: false,
        force: true,
        dryRun: false,
        featureset: stored.config.featureset,
        ensureFeatures: false,
        driver: applied.driver,
        ...(Object.keys(applied.model).length ? { model: applied.model } : {}),
        ...(applied.lookbackCandles !== stored.template.lookbackCandles ? { lookbackCandles: applied.lookbackCandles } : {}),
        ...(stored.config.timeoutMinutes ? { timeoutMinutes: stored.config.timeoutMinutes } : {}),
        requestedBy: `study ${id}`,
      },
      { id: `${runId}-request-${promote}` },
    );
    this.log.log({
      event: 'study_best_requested',
      runId,
      msg: `study ${id}: trial ${study.best.trial} (${study.objective} ${study.best.value}) trained for production as run ${runId}, promote ${promote}`,
    });
    return { runId, trial: study.best.trial, params: study.best.params };
  }

  /** The optimisation history as a PNG: each complete trial's value and the best so far. */
  async historyChart(id: string): Promise<Buffer> {
    const v = await this.view(id);
    const points = v.history.map((h) => ({ x: h.trial, y: h.value }));
    return renderChart(
      [
        {
          title: `${v.objective} by trial (${v.direction})`,
          series: [
            { label: 'trial', color: '#1f77b4', points, dots: true },
            { label: 'best so far', color: '#d62728', points: v.history.map((h) => ({ x: h.trial, y: h.best })) },
          ],
          formatX: (x) => `#${Math.round(x)}`,
          formatY: (y) => y.toPrecision(3),
        },
      ],
      { title: `study ${v.id}: ${v.symbol}, ${v.trials.length} trials`, panelWidth: 900, panelHeight: 420 },
    );
  }

  /** Each parameter's share of the objective's variance (fANOVA over a random forest) as a PNG, largest first. */
  async importanceChart(id: string): Promise<Buffer> {
    const v = await this.view(id);
    const ranked = Object.entries(v.importance).sort((a, b) => b[1] - a[1]);
    return renderChart(
      [
        {
          title: 'parameter importance (share of variance)',
          series: [{ label: 'importance', color: '#2ca02c', points: ranked.map(([, share], i) => ({ x: i, y: share })), dots: true }],
          formatX: (x) => ranked[Math.round(x)]?.[0] ?? '',
          formatY: (y) => y.toFixed(2),
          xTicksAtPoints: true,
        },
      ],
      { title: `study ${v.id}: what mattered`, panelWidth: 900, panelHeight: 420 },
    );
  }

  list(limit: number, offset: number) {
    return this.studies.list(limit, offset).then((rows) =>
      rows.map((s) => ({
        id: s.id,
        symbol: s.symbol,
        status: s.status,
        sampler: s.config.sampler,
        trials: s.config.trials,
        objective: s.config.objective,
        createdAt: s.createdAt,
        completedAt: s.completedAt,
      })),
    );
  }
}
