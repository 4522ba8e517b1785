import { Module, type DynamicModule } from '@nestjs/common';
import { busOptions, storageOptions } from '@trainyard/config';
import { MessagingModule } from '@trainyard/messaging';
import { AppConfigModule, ClockModule, HealthModule } from '@trainyard/runtime';
import { StorageModule } from '@trainyard/storage';
import { AGENT_CONFIG, type AgentConfig } from './config/agent.config';
import { CapacityModule } from './capacity/capacity.module';
import { InstanceModule } from './instance/instance.module';
import { JobsModule } from './jobs/jobs.module';
import { StorageHealth } from './artifacts/storage.health';
import { AgentMetricsModule } from './metrics/agent.metrics';

@Module({})
export class AppModule {
  static forRoot(config: AgentConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(AGENT_CONFIG, config),
        ClockModule,
        MessagingModule.forRootAsync({ useFactory: () => busOptions(config, 'agent') }),
        StorageModule.forRoot(storageOptions(config)),
        HealthModule,
        AgentMetricsModule,
        JobsModule,
        CapacityModule,
        InstanceModule,
      ],
      providers: [StorageHealth],
    };
  }
}
