import { Module } from '@nestjs/common';
import { CapacityModule } from '../capacity/capacity.module';
import { LeasesModule } from '../leases/leases.module';
import { AgentsController } from './agents.controller';
import { AgentsService } from './agents.service';

/** The agents as the broker hears them: heartbeats, silence, and the leases they no longer list. */
@Module({ imports: [LeasesModule, CapacityModule], controllers: [AgentsController], providers: [AgentsService] })
export class AgentsModule {}
