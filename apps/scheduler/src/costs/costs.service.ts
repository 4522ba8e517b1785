import { Inject, Injectable } from '@nestjs/common';
import { DEFAULT_COSTS } from '@trainyard/contracts';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { ExchangeClient } from '../exchange/exchange-client';
import { loadCosts, type CostTable } from './trading-costs';

/**
 * Trading costs for a run, fetched before it is planned: the costs file when configured, else the
 * exchange's current spreads with the configured fee, else the defaults.
 */
@Injectable()
export class CostsService {
  constructor(
    private readonly exchange: ExchangeClient,
    @Inject(SCHEDULER_CONFIG) private readonly cfg: SchedulerConfig,
  ) {}

  async costsFor(symbols: string[]): Promise<CostTable> {
    if (this.cfg.SCHEDULER_COSTS_FILE || !this.exchange.configured) return loadCosts(symbols, this.cfg.SCHEDULER_COSTS_FILE);
    const spreads = await this.exchange.spreadsBps(symbols);
    const round = (bps: number) => Math.round(bps * 1000) / 1000;
    return Object.fromEntries(symbols.map((s) => [s, { feeBps: this.cfg.SCHEDULER_FEE_BPS, spreadBps: round(spreads.get(s) ?? DEFAULT_COSTS.spreadBps) }]));
  }
}
