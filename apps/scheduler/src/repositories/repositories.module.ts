import { Module, OnModuleInit } from '@nestjs/common';
import { ReadinessRegistry } from '@trainyard/runtime';
import { JobRepository } from './job.repository';
import { LedgerRepository } from './ledger.repository';
import { RunSpendRepository } from './run-spend.repository';
import { RunRepository } from './run.repository';

/**
 * The scheduler's runs, jobs (with their attempts), ledger and spend: one repository per aggregate,
 * the only place their SQL is written. Studies, tracking and retention keep their own stores.
 */
@Module({
  providers: [RunRepository, JobRepository, LedgerRepository, RunSpendRepository],
  exports: [RunRepository, JobRepository, LedgerRepository, RunSpendRepository],
})
export class RepositoriesModule implements OnModuleInit {
  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly runs: RunRepository,
  ) {}

  onModuleInit(): void {
    this.readiness.add('database', () => this.runs.ping());
  }
}
