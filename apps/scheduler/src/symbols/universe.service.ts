import { Inject, Injectable, Logger } from '@nestjs/common';
import { readFile } from 'node:fs/promises';
import { symbolsFromCsv, type SymbolSelection } from '@trainyard/contracts';
import { PermanentError } from '@trainyard/messaging';
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
  private readonly log = new Logger('Universe');

  constructor(
    private readonly exchange: ExchangeClient,
    @Inject(SCHEDULER_CONFIG) private readonly cfg: SchedulerConfig,
  ) {}

  async resolve(selection: SymbolSelection): Promise<ResolvedSymbols> {
    if (Array.isArray(selection)) return checkSymbols(selection);
    const resolved = checkSymbols(await this.ranked());
    return { symbols: resolved.symbols.slice(0, selection.topN), refused: resolved.refused };
  }

  /**
   * The daily set (SCHEDULER_DAILY_SYMBOLS) as a selection: the daily cron's, and a request's that
   * names no symbols. The operator's CSV file is read here, from configuration, never from a message.
   */
  async dailySelection(): Promise<SymbolSelection> {
    const configured = this.cfg.SCHEDULER_DAILY_SYMBOLS;
    if (!configured) throw new PermanentError('the request names no symbols and SCHEDULER_DAILY_SYMBOLS is not set: give symbols');
    if (!('csvFile' in configured)) return configured;
    const { symbols, refused } = checkSymbols(symbolsFromCsv(await readFile(configured.csvFile, 'utf8')));
    if (refused.length) this.log.warn(`${configured.csvFile}: ${refused.length} entries are not symbols and were left out`);
    if (symbols.length === 0) throw new PermanentError(`${configured.csvFile} (SCHEDULER_DAILY_SYMBOLS) lists no symbols`);
    return symbols;
  }

  private async ranked(): Promise<string[]> {
    if (this.cfg.SCHEDULER_UNIVERSE_FILE)
      return (await readFile(this.cfg.SCHEDULER_UNIVERSE_FILE, 'utf8'))
        .split(/\r?\n/)
        .map((s) => s.trim())
        .filter(Boolean);
    if (this.exchange.configured) return this.exchange.rankedByVolume(this.cfg.SCHEDULER_UNIVERSE_QUOTE);
    return DEFAULT_UNIVERSE;
  }
}
