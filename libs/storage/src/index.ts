export { ArtifactNotFoundError, type ArtifactStore, type ListedArtifact, type StoredArtifact } from './artifact-store';
export { assertArtifactKey, assertArtifactPrefix } from './artifact-key';
export { hashFile, sha256Buffer, sha256File } from './sha256';
export { FileThread, type FileOps, type ListedFile } from './file-thread';
export { LocalArtifactStore } from './local-artifact-store';
export { S3ArtifactStore, type S3ArtifactStoreOptions } from './s3-artifact-store';
export { createArtifactStore, type ArtifactStoreConfig } from './create-artifact-store';
export { ARTIFACT_STORE, InjectArtifactStore, StorageModule } from './storage.module';
