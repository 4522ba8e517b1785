import { Module } from '@nestjs/common';
import { JobsModule } from '../jobs/jobs.module';
import { InstanceApi } from './instance-api';
import { InstanceGuard } from './instance-guard.service';

@Module({
  imports: [JobsModule],
  providers: [InstanceApi, InstanceGuard],
})
export class InstanceModule {}
