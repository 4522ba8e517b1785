import { BeforeApplicationShutdown, Injectable, NotFoundException, OnApplicationBootstrap } from '@nestjs/common';
import type { Subscription } from '@nats-io/nats-core';
import type { QueryResponseInput } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { StudyService } from './study.service';

/** Answers the bus's question about a study (the bot's /study). */
@Injectable()
export class StudyQueries implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private sub?: Subscription;

  constructor(
    private readonly bus: NatsBus,
    private readonly studies: StudyService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.sub = await this.bus.answer('studies.find', ({ id }) => this.find(id));
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.sub?.drain();
  }

  async find(id: string): Promise<QueryResponseInput<'studies.find'>> {
    const v = await this.studies.view(id).catch((err) => (err instanceof NotFoundException ? null : Promise.reject(err)));
    if (!v) return { study: null };
    const count = (state: string) => v.trials.filter((t) => t.state === state).length;
    return {
      study: {
        id: v.id,
        symbol: v.symbol,
        status: v.status,
        objective: v.objective,
        direction: v.direction,
        sampler: v.sampler,
        pruner: v.pruner.type,
        trialsPlanned: v.trialsPlanned,
        trials: { running: count('running'), complete: count('complete'), pruned: count('pruned'), failed: count('failed') },
        best: v.best && v.best.value !== undefined ? { trial: v.best.trial, value: v.best.value, params: v.best.params } : null,
        history: v.history,
        importance: v.importance,
      },
    };
  }
}
