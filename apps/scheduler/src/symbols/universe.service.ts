import { Inject, Injectable } from '@nestjs/common';
import { readFile } from 'node:fs/promises';
import type { SymbolSelection } from '@trainyard/contracts';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { ExchangeClient } from '../exchange/exchange-client';
import { DEFAULT_UNIVERSE } from './default-universe';
import { checkSymbols, type ResolvedSymbols } from './symbol-selection';

/**
 * Turns a selection into symbols. `topN` ranks a universe: the configured file, else the exchange's
 * 24h volume when an exchange is configured, else a built-in list.
 */
@Injectable()
export class UniverseService {
  constructor(
    private readonly exchange: ExchangeClient,
    @Inject(SCHEDULER_CONFIG) private readonly cfg: SchedulerConfig,
  ) {}

  async resolve(selection: SymbolSelection): Promise<ResolvedSymbols> {
    if (Array.isArray(selection)) return checkSymbols(selection);
    const resolved = checkSymbols(await this.ranked());
    return { symbols: resolved.symbols.slice(0, selection.topN), refused: resolved.refused };
  }

  private async ranked(): Promise<string[]> {
    if (this.cfg.SCHEDULER_UNIVERSE_FILE) return (await readFile(this.cfg.SCHEDULER_UNIVERSE_FILE, 'utf8')).split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
    if (this.exchange.configured) return this.exchange.rankedByVolume(this.cfg.SCHEDULER_UNIVERSE_QUOTE);
    return DEFAULT_UNIVERSE;
  }
}
