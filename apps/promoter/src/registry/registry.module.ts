import { Module, OnModuleInit } from '@nestjs/common';
import { ReadinessRegistry } from '@trainyard/runtime';
import { AttemptVerdicts } from './attempt-verdict';
import { RegistrationService } from './registration.service';
import { RegistryStore } from './registry.store';

@Module({
  providers: [RegistryStore, RegistrationService, AttemptVerdicts],
  exports: [RegistryStore, RegistrationService, AttemptVerdicts],
})
export class RegistryModule implements OnModuleInit {
  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly store: RegistryStore,
  ) {}

  onModuleInit(): void {
    this.readiness.add('database', () => this.store.ping());
  }
}
