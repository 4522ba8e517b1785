import { Module, OnModuleInit } from '@nestjs/common';
import { ReadinessRegistry } from '@trainyard/runtime';
import { RegistrationService } from './registration.service';
import { RegistryStore } from './registry.store';

@Module({
  providers: [RegistryStore, RegistrationService],
  exports: [RegistryStore, RegistrationService],
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
