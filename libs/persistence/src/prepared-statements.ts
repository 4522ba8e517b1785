import { createHash } from 'node:crypto';
import { Client, type QueryConfig } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * Distinct statements one connection prepares at most; the rest go unnamed. The services' own
 * statements repeat from the start and come first; the bound keeps a stream of one-off texts (an
 * `IN` list of every length) from growing a server session without end, since pg never deallocates.
 */
export const PREPARED_PER_CONNECTION = 256;

/**
 * Whether a DataSource's connections name their statements, decided once its server is known:
 * wanted (DATABASE_PREPARED_STATEMENTS), and not the embedded PGlite, whose one session is shared by
 * every connection, where two connections preparing the same name would collide.
 */
export class StatementNaming {
  private on = false;
  /** Statements the DataSource's connections have sent, named or not. */
  sent = 0;

  constructor(readonly wanted: boolean) {}

  get enabled(): boolean {
    return this.on;
  }

  async decide(ds: DataSource): Promise<boolean> {
    if (!this.wanted) return (this.on = false);
    const [row] = (await ds.query('SELECT version() AS version')) as { version: string }[];
    return (this.on = row !== undefined && !/PGlite/.test(row.version));
  }
}

/** The statement's name: the same text gets the same name on every connection, within PostgreSQL's 63 characters. */
export const statementName = (text: string) => `ty_${createHash('sha1').update(text).digest('hex')}`;

/**
 * A pg Client that sends a parameterised statement as a named prepared statement, so the server
 * parses it once per connection and, once its plan proves generic, stops planning it: about a fifth
 * of PostgreSQL's CPU per job in the stack bench went to planning the same statements again.
 * Statements without parameters keep the simple protocol (one message, nothing to prepare).
 */
export function namingClient(naming: StatementNaming): typeof Client {
  return class NamingClient extends Client {
    private readonly names = new Map<string, string>();

    // pg's query() has many overloads; this one only rewrites (text, values) and passes the rest on.
    override query(...args: unknown[]): never {
      const [text, values] = args;
      naming.sent++;
      if (naming.enabled && typeof text === 'string' && Array.isArray(values) && values.length > 0) {
        const name = this.nameOf(text);
        if (name) args[0] = { text, name } satisfies QueryConfig;
      }
      return (Client.prototype.query as (...a: unknown[]) => never).apply(this, args);
    }

    private nameOf(text: string): string | undefined {
      const known = this.names.get(text);
      if (known || this.names.size >= PREPARED_PER_CONNECTION) return known;
      const name = statementName(text);
      this.names.set(text, name);
      return name;
    }
  };
}
