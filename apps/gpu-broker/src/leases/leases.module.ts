import { Module, OnModuleInit } from '@nestjs/common';
import { ReadinessRegistry } from '@trainyard/runtime';
import { BrokerQueries } from './broker-queries';
import { BrokerStore } from './broker.store';
import { LeaseService } from './lease.service';
import { LeasesController } from './leases.controller';

@Module({
  controllers: [LeasesController],
  providers: [BrokerStore, LeaseService, BrokerQueries],
  exports: [BrokerStore, LeaseService],
})
export class LeasesModule implements OnModuleInit {
  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly store: BrokerStore,
  ) {}

  onModuleInit(): void {
    this.readiness.add('database', () => this.store.ping());
  }
}
