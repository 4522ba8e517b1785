import { Module } from '@nestjs/common';
import { LeasesModule } from '../leases/leases.module';
import { CapacityPublisher } from './capacity-publisher.service';

/** The capacity summary the broker keeps in the KV bucket for the scheduler and the notifier. */
@Module({ imports: [LeasesModule], providers: [CapacityPublisher], exports: [CapacityPublisher] })
export class CapacityModule {}
