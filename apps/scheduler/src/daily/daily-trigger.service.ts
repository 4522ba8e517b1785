import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { dailyRunId } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { RunRepository } from '../repositories/run.repository';
import { UniverseService } from '../symbols/universe.service';
import { dueDataDate, parseTimeOfDay } from './daily-schedule';

const CHECK_EVERY_MS = 30_000;

/**
 * The daily cron. It requests the run whose slot has passed unless it exists, so a scheduler that
 * was down at 00:15 catches up when it starts; the run id derives from the date, so two triggers
 * (two replicas, a restart) are one run.
 */
@Injectable()
export class DailyTriggerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('DailyTrigger');
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly runs: RunRepository,
    private readonly universe: UniverseService,
    private readonly bus: NatsBus,
    private readonly clock: Clock,
    @Inject(SCHEDULER_CONFIG) private readonly cfg: SchedulerConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.cfg.SCHEDULER_DAILY_SYMBOLS) return;
    this.log.log(`daily run at ${this.cfg.SCHEDULER_DAILY_AT} UTC for ${JSON.stringify(this.cfg.SCHEDULER_DAILY_SYMBOLS)}`);
    void this.check();
    this.timer = setInterval(() => void this.check(), CHECK_EVERY_MS);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async check(): Promise<void> {
    const configured = this.cfg.SCHEDULER_DAILY_SYMBOLS;
    const date = dueDataDate(this.clock.now(), parseTimeOfDay(this.cfg.SCHEDULER_DAILY_AT));
    if (!configured || !date) return;
    const runId = dailyRunId(date);
    try {
      if (await this.runs.find(runId)) return;
      const symbols = await this.universe.dailySelection();
      await this.bus.publish(
        'run.requested',
        { runId, trigger: 'cron', date, symbols, mode: this.cfg.SCHEDULER_DAILY_MODE, promote: this.cfg.SCHEDULER_DAILY_PROMOTE, requestedBy: 'daily cron' },
        { id: `${runId}-request` },
      );
      this.log.log(`requested daily run ${runId}`);
    } catch (err) {
      this.log.warn(`daily run ${runId} not requested yet: ${(err as Error).message}`);
    }
  }
}
