import { Global, Module, OnModuleInit } from '@nestjs/common';
import { ReadinessRegistry } from '@trainyard/runtime';
import { LeasesModule } from '../leases/leases.module';
import { RENTED_INSTANCES } from '../leases/rented-instances';
import { VastRentedInstances } from './rented-instances.service';
import { AgentBundler } from './agent-bundle';
import { InstanceStates } from './instance-states.service';
import { InstanceStore } from './instance.store';
import { InstanceWatch } from './instance-watch.service';
import { InstanceProvisioner } from './provisioner.service';
import { ScaleUp } from './scale-up.service';
import { SshGateway } from './ssh-gateway';
import { SshSessions } from './ssh-sessions';
import { InstanceTeardown } from './teardown.service';
import { VastApi } from './vast-api';
import { VastContext } from './vast-context';
import { VastController } from './vast.controller';
import { VastProvider } from './vast-provider.service';

const API_CHECK_EVERY_MS = 60_000;

/** Global for one export: leases/ reads rented instances through RENTED_INSTANCES without importing this module back. */
@Global()
@Module({
  imports: [LeasesModule],
  controllers: [VastController],
  providers: [
    VastApi,
    SshGateway,
    AgentBundler,
    InstanceStore,
    VastContext,
    InstanceStates,
    SshSessions,
    InstanceTeardown,
    InstanceProvisioner,
    ScaleUp,
    InstanceWatch,
    VastProvider,
    { provide: RENTED_INSTANCES, useClass: VastRentedInstances },
  ],
  exports: [VastProvider, InstanceStore, RENTED_INSTANCES],
})
export class VastModule implements OnModuleInit {
  private lastCheck: { at: number; error: string | null } = { at: 0, error: null };

  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly api: VastApi,
  ) {}

  /** When renting is on, readiness includes the API answering our key; asked at most once a minute (it is rate-limited). */
  onModuleInit(): void {
    if (!this.api.enabled) return;
    this.readiness.add('vast', async () => {
      if (Date.now() - this.lastCheck.at > API_CHECK_EVERY_MS) {
        this.lastCheck = await this.api
          .currentUser()
          .then(() => ({ at: Date.now(), error: null }))
          .catch((err: Error) => ({ at: Date.now(), error: err.message }));
      }
      if (this.lastCheck.error) throw new Error(this.lastCheck.error);
    });
  }
}
