import { Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';
import { LIVE_INSTANCE_STATES } from '@trainyard/contracts';
import type { InstanceView, RentedInstances } from '../leases/rented-instances';
import { InstanceEntity } from './instance.entity';

/** Leasing's view of the instances this broker rents (RENTED_INSTANCES). */
@Injectable()
export class VastRentedInstances implements RentedInstances {
  constructor(private readonly ds: DataSource) {}

  async placeableAgents(em: EntityManager): Promise<Map<string, number>> {
    const rows = await em.getRepository(InstanceEntity).find({ where: { status: In(['ready', 'busy']) } });
    return new Map(rows.flatMap((r) => (r.agentId ? [[r.agentId, r.pricePerHour / r.numGpus] as const] : [])));
  }

  async live(): Promise<InstanceView[]> {
    const rows = await this.ds.getRepository(InstanceEntity).find({ where: { status: In([...LIVE_INSTANCE_STATES]) }, order: { createdAt: 'ASC' } });
    return rows.map((i) => ({
      instanceId: i.vastId,
      gpuName: i.gpuName,
      numGpus: i.numGpus,
      pricePerHour: i.pricePerHour,
      status: i.status,
      agentId: i.agentId,
      createdAt: i.createdAt.toISOString(),
    }));
  }

  async typicalProvisionSeconds(): Promise<number | null> {
    const [row]: Array<{ s: number | null }> = await this.ds.query(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::float AS s FROM (
         SELECT extract(epoch FROM ready_at - created_at) AS s FROM broker.instances WHERE ready_at IS NOT NULL ORDER BY created_at DESC LIMIT 50) recent`,
    );
    return row?.s == null ? null : Number(row.s);
  }
}
