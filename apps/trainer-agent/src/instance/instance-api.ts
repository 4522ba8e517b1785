import { Inject, Injectable } from '@nestjs/common';
import { AGENT_CONFIG, type AgentConfig } from '../config/agent.config';

/** Vast.ai's API as seen from inside an instance: only its own key, only its own instance. */
@Injectable()
export class InstanceApi {
  constructor(@Inject(AGENT_CONFIG) private readonly cfg: AgentConfig) {}

  get configured(): boolean {
    return this.cfg.CONTAINER_ID !== undefined && this.cfg.CONTAINER_API_KEY !== undefined;
  }

  /** Resolves once the API confirms the instance is gone (a 404 means it already was). */
  async destroySelf(): Promise<void> {
    const url = new URL(`/api/v0/instances/${this.cfg.CONTAINER_ID}/`, this.cfg.VAST_API_URL.replace(/\/+$/, '') + '/');
    const res = await fetch(url, { method: 'DELETE', headers: { Authorization: `Bearer ${this.cfg.CONTAINER_API_KEY}` }, signal: AbortSignal.timeout(30_000) });
    if (res.ok || res.status === 404) return;
    throw new Error(`DELETE instance ${this.cfg.CONTAINER_ID}: ${res.status} ${(await res.text()).slice(0, 200)}`);
  }
}
