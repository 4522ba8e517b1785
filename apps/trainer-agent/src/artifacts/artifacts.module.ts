import { Module } from '@nestjs/common';
import { ArtifactPublisher } from './artifact-publisher.service';

/** An attempt's files to the artifact store, each with its checksum. */
@Module({ providers: [ArtifactPublisher], exports: [ArtifactPublisher] })
export class ArtifactsModule {}
