import { Module } from '@nestjs/common';
import { CapacityModule } from '../capacity/capacity.module';
import { JobsModule } from '../jobs/jobs.module';
import { InstanceApi } from './instance-api';
import { InstanceGuard } from './instance-guard.service';

@Module({
  imports: [JobsModule, CapacityModule],
  providers: [InstanceApi, InstanceGuard],
})
export class InstanceModule {}
