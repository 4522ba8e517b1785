import { DynamicModule, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { ArtifactStore } from './artifact-store';
import { ArtifactStoreConfig, createArtifactStore } from './create-artifact-store';
import { S3ArtifactStore } from './s3-artifact-store';

/** Injection token of the ArtifactStore; a string so every copy of this library agrees on it. */
export const ARTIFACT_STORE = 'trainyard.ArtifactStore';

export const InjectArtifactStore = (): ReturnType<typeof Inject> => Inject(ARTIFACT_STORE);

@Module({})
export class StorageModule implements OnApplicationShutdown {
  constructor(@InjectArtifactStore() private readonly store: ArtifactStore) {}

  static forRoot(cfg: ArtifactStoreConfig): DynamicModule {
    return {
      module: StorageModule,
      global: true,
      providers: [{ provide: ARTIFACT_STORE, useFactory: () => createArtifactStore(cfg) }],
      exports: [ARTIFACT_STORE],
    };
  }

  onApplicationShutdown(): void {
    if (this.store instanceof S3ArtifactStore) this.store.close();
  }
}
