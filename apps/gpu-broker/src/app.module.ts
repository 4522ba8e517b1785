import { Module, type DynamicModule } from '@nestjs/common';
import { busOptions } from '@trainyard/config';
import { MessagingModule } from '@trainyard/messaging';
import { PersistenceModule } from '@trainyard/persistence';
import { AppConfigModule, ClockModule, HealthModule } from '@trainyard/runtime';
import { AgentEntity } from './agents/agent.entity';
import { AgentsModule } from './agents/agents.module';
import { CapacityModule } from './capacity/capacity.module';
import { BROKER_CONFIG, type BrokerConfig } from './config/broker.config';
import { LeaseRequestEntity } from './leases/lease-request.entity';
import { LeaseEntity } from './leases/lease.entity';
import { LeasesModule } from './leases/leases.module';
import { BrokerInit1763900000001 } from './migrations/1763900000001-broker-init';
import { BrokerInstances1763900000002 } from './migrations/1763900000002-broker-instances';
import { BrokerLearnedMemory1763900000003 } from './migrations/1763900000003-broker-learned-memory';
import { BrokerTraceContext1763900000004 } from './migrations/1763900000004-broker-trace-context';
import { BrokerProcesses1763900000005 } from './migrations/1763900000005-broker-processes';
import { BrokerInstanceSpend1763900000006 } from './migrations/1763900000006-broker-instance-spend';
import { BrokerAnnouncedEnds1763900000007 } from './migrations/1763900000007-broker-announced-ends';
import { BrokerActiveLeases1763900000008 } from './migrations/1763900000008-broker-active-leases';
import { BrokerDispatchEpoch1763900000009 } from './migrations/1763900000009-broker-dispatch-epoch';
import { InstanceEntity } from './vast/instance.entity';
import { VastModule } from './vast/vast.module';
import { BrokerMetricsModule } from './metrics/broker.metrics';

@Module({})
export class AppModule {
  static forRoot(config: BrokerConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(BROKER_CONFIG, config),
        ClockModule,
        MessagingModule.forRootAsync({ useFactory: () => busOptions(config, 'broker') }),
        PersistenceModule.forRoot({
          schema: 'broker',
          url: config.DATABASE_URL,
          poolSize: config.DATABASE_POOL_SIZE,
          preparedStatements: config.DATABASE_PREPARED_STATEMENTS,
          waitForServerSeconds: config.DATABASE_WAIT_SECONDS,
          dataDir: config.DATA_DIR,
          entities: [AgentEntity, LeaseEntity, LeaseRequestEntity, InstanceEntity],
          migrations: [
            BrokerInit1763900000001,
            BrokerInstances1763900000002,
            BrokerLearnedMemory1763900000003,
            BrokerTraceContext1763900000004,
            BrokerProcesses1763900000005,
            BrokerInstanceSpend1763900000006,
            BrokerAnnouncedEnds1763900000007,
            BrokerActiveLeases1763900000008,
            BrokerDispatchEpoch1763900000009,
          ],
        }),
        HealthModule,
        BrokerMetricsModule,
        LeasesModule,
        AgentsModule,
        CapacityModule,
        VastModule,
      ],
    };
  }
}
