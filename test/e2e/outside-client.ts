import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { headers, nkeyAuthenticator, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

/**
 * A client of Trainyard written only from the published JSON Schemas in docs/events and the NATS
 * client, none of the project's code: how another system would request a run and follow it.
 */
type Schema = { 'x-subject': string; required: string[]; properties: Record<string, { const?: unknown; enum?: unknown[] }> };

const schema = (event: string): Schema => JSON.parse(readFileSync(join(__dirname, '../../docs/events', `${event}.schema.json`), 'utf8'));

export class OutsideClient {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
  ) {}

  static async connect(url: string, prefix: string, nkeySeed: string): Promise<OutsideClient> {
    return new OutsideClient(await connect({ servers: url, authenticator: nkeyAuthenticator(new TextEncoder().encode(nkeySeed)) }), prefix);
  }

  private subject(event: string): string {
    return schema(event)['x-subject'].replace('<prefix>', this.prefix);
  }

  /**
   * Publishes a run.requested with the envelope its schema asks for, and resolves with the
   * run.completed that names the request's id (its requestId), watched live from before the publish.
   */
  async run(fields: Record<string, unknown>, timeoutMs: number): Promise<{ requestId: string; completed: Record<string, unknown> }> {
    const s = schema('run.requested');
    const version = s.properties.schemaVersion;
    if (!version) throw new Error('the run.requested schema has no schemaVersion property');
    const requestId = randomUUID();
    const message: Record<string, unknown> = { schemaVersion: version.const, id: requestId, occurredAt: new Date().toISOString(), ...fields };
    const missing = s.required.filter((k) => !(k in message));
    if (missing.length) throw new Error(`run.requested lacks ${missing.join(', ')}`);
    const completion = this.completionOf(requestId, timeoutMs);
    const h = headers();
    h.set('Nats-Msg-Id', requestId);
    await jetstream(this.nc).publish(this.subject('run.requested'), JSON.stringify(message), { headers: h });
    return { requestId, completed: await completion };
  }

  private completionOf(requestId: string, timeoutMs: number): Promise<Record<string, unknown>> {
    const required = schema('run.completed').required;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no run.completed for request ${requestId} within ${timeoutMs / 1000} s`)), timeoutMs);
      const sub = this.nc.subscribe(this.subject('run.completed'), {
        callback: (_err, m) => {
          const data = m.json<Record<string, unknown>>();
          if (data.requestId !== requestId) return;
          clearTimeout(timer);
          sub.unsubscribe();
          const missing = required.filter((k) => !(k in data));
          if (missing.length) reject(new Error(`run.completed lacks ${missing.join(', ')}`));
          else resolve(data);
        },
      });
    });
  }

  close(): Promise<void> {
    return this.nc.close();
  }
}
