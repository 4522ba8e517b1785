import { Module } from '@nestjs/common';
import { Clock } from '@trainyard/runtime';
import { RegistryModule } from '../registry/registry.module';
import { RetentionService } from './retention.service';

@Module({
  imports: [RegistryModule],
  providers: [Clock, RetentionService],
  exports: [RetentionService],
})
export class RetentionModule {}
