import { Module } from '@nestjs/common';
import { RunsModule } from '../runs/runs.module';
import { SymbolsModule } from '../symbols/symbols.module';
import { DailyTriggerService } from './daily-trigger.service';

/** The daily cron: the run whose slot has passed, requested once. */
@Module({ imports: [RunsModule, SymbolsModule], providers: [DailyTriggerService] })
export class DailyModule {}
