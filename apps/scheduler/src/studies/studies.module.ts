import { Module } from '@nestjs/common';
import { CostsModule } from '../costs/costs.module';
import { RepositoriesModule } from '../repositories/repositories.module';
import { RunsModule } from '../runs/runs.module';
import { StudiesApiController } from './studies-api.controller';
import { StudiesController } from './studies.controller';
import { StudyQueries } from './study-queries';
import { StudyService } from './study.service';
import { StudyStore } from './study.store';

/** Hyperparameter search on the shared fleet: studies whose trials are low-priority search jobs. */
@Module({
  imports: [RepositoriesModule, RunsModule, CostsModule],
  controllers: [StudiesApiController, StudiesController],
  providers: [StudyStore, StudyService, StudyQueries],
})
export class StudiesModule {}
