import { Module } from '@nestjs/common';
import { ExchangeClient } from './exchange-client';

/** The exchange's public market data behind one adapter. */
@Module({ providers: [ExchangeClient], exports: [ExchangeClient] })
export class ExchangeModule {}
