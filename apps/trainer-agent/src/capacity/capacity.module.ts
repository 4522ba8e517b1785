import { Module } from '@nestjs/common';
import { JobsModule } from '../jobs/jobs.module';
import { GpuProbe } from './gpu-probe';
import { HeartbeatService } from './heartbeat.service';

/** What this agent has and holds, told to the broker in its heartbeats. */
@Module({ imports: [JobsModule], providers: [GpuProbe, HeartbeatService], exports: [HeartbeatService] })
export class CapacityModule {}
