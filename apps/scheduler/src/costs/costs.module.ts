import { Module } from '@nestjs/common';
import { ExchangeModule } from '../exchange/exchange.module';
import { CostsService } from './costs.service';

/** The trading costs each symbol's evaluation is charged. */
@Module({ imports: [ExchangeModule], providers: [CostsService], exports: [CostsService] })
export class CostsModule {}
