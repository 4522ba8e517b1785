import { Module } from '@nestjs/common';
import { RepositoriesModule } from '../repositories/repositories.module';
import { SymbolsModule } from '../symbols/symbols.module';
import { DailyTriggerService } from './daily-trigger.service';

/** The daily cron: the run whose slot has passed, requested once. */
@Module({ imports: [RepositoriesModule, SymbolsModule], providers: [DailyTriggerService] })
export class DailyModule {}
