import { Module } from '@nestjs/common';
import { FeatureStore } from './feature-store.service';
import { KlinesClient } from './klines-client';
import { MarketDataService } from './market-data.service';
import { TrainerInputsService } from './trainer-inputs.service';

/** What a job trains on: candles (files, the exchange, or synthetic), the feature store, the command trainer's input files. */
@Module({ providers: [KlinesClient, MarketDataService, FeatureStore, TrainerInputsService], exports: [MarketDataService, FeatureStore, TrainerInputsService] })
export class MarketDataModule {}
