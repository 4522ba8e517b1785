import { Module } from '@nestjs/common';
import { ExchangeModule } from '../exchange/exchange.module';
import { UniverseService } from './universe.service';

/** Which symbols a selection names: a list, the top N of a universe, the daily set. */
@Module({ imports: [ExchangeModule], providers: [UniverseService], exports: [UniverseService] })
export class SymbolsModule {}
