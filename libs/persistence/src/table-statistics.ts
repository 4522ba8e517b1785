import type { DataSource } from 'typeorm';
import type { StatementNaming } from './prepared-statements';

/** A table smaller than this (64 kB) is read whole in a page or two, whatever its plans say. */
const STATISTICS_MIN_PAGES = 8;

/** Statements this service must have sent since its last look before it looks again: idle, it costs nothing. */
export const STATISTICS_MIN_STATEMENTS = 100;

/**
 * Keeps a service's prepared statements planned for its tables as they are, not as they were.
 *
 * A named statement's generic plan is made once, for the table's size at that moment, and kept until
 * the table's statistics change. On a new database the jobs, attempts, leases and versions tables
 * start nearly empty, so their first plans read them whole, and they are still read whole thousands
 * of rows later, until autovacuum analyzes them (its default naptime is a minute; a 1,000-job run
 * of no-op jobs takes ten seconds). In the stack bench's 5,000-job run PostgreSQL spent 6.7 ms a job
 * executing statements that way, 2.4 ms with this. An ANALYZE of a table whose file has at least doubled since its last
 * one makes every session plan its statements on that table again: a few per table's lifetime.
 */
export class TableStatistics {
  /** Statements sent at the last look; the first look is not waited for. */
  private seen = -Infinity;
  private looking?: Promise<string[]>;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly ds: DataSource,
    private readonly schema: string,
    private readonly naming: StatementNaming,
  ) {}

  /** Looks every `everyMs`; a failed look is reported to `onError` and tried again at the next. */
  start(everyMs: number, onError: (err: Error) => void): void {
    this.timer ??= setInterval(() => void this.check().catch(onError), everyMs).unref();
  }

  /** Stops looking, once a look under way has ended. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.looking?.catch(() => undefined);
  }

  /** Analyzes the schema's tables that have at least doubled since they were last analyzed; their names. */
  check(): Promise<string[]> {
    if (!this.naming.enabled || !this.ds.isInitialized || this.naming.sent - this.seen < STATISTICS_MIN_STATEMENTS) return Promise.resolve([]);
    this.looking ??= this.look().finally(() => (this.looking = undefined));
    return this.looking;
  }

  private async look(): Promise<string[]> {
    const grown = (await this.ds.query(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind = 'r'
          AND pg_relation_size(c.oid) >= greatest($2, 2 * c.relpages) * current_setting('block_size')::bigint`,
      [this.schema, STATISTICS_MIN_PAGES],
    )) as { name: string }[];
    // SKIP_LOCKED: another replica's ANALYZE or autovacuum on the table does the same work.
    if (grown.length) await this.ds.query(`ANALYZE (SKIP_LOCKED) ${grown.map((t) => t.name).join(', ')}`);
    this.seen = this.naming.sent;
    return grown.map((t) => t.name);
  }
}
