import { Module } from '@nestjs/common';
import { RegistryModule } from '../registry/registry.module';
import { RetentionService } from './retention.service';

@Module({
  imports: [RegistryModule],
  providers: [RetentionService],
  exports: [RetentionService],
})
export class RetentionModule {}
