import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { ReadinessRegistry } from '@trainyard/runtime';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';

/** The agent is of no use if it cannot upload what it trains. */
@Injectable()
export class StorageHealth implements OnModuleInit {
  constructor(
    private readonly readiness: ReadinessRegistry,
    @Inject(ARTIFACT_STORE) private readonly store: ArtifactStore,
  ) {}

  onModuleInit(): void {
    this.readiness.add('storage', () => this.store.ping());
  }
}
