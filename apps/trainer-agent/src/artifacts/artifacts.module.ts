import { Module } from '@nestjs/common';
import { FileThread } from '@trainyard/storage';
import { ArtifactPublisher } from './artifact-publisher.service';

/** An attempt's files to the artifact store, each with its checksum; the attempt folders' writes on a thread of their own. */
@Module({ providers: [ArtifactPublisher, FileThread], exports: [ArtifactPublisher, FileThread] })
export class ArtifactsModule {}
