import { ArtifactStore } from './artifact-store';
import { LocalArtifactStore } from './local-artifact-store';
import { S3ArtifactStore, S3ArtifactStoreOptions } from './s3-artifact-store';

export type ArtifactStoreConfig = { kind: 'local'; dir: string } | ({ kind: 's3' } & S3ArtifactStoreOptions);

export function createArtifactStore(cfg: ArtifactStoreConfig): ArtifactStore {
  return cfg.kind === 'local' ? new LocalArtifactStore(cfg.dir) : new S3ArtifactStore(cfg);
}
