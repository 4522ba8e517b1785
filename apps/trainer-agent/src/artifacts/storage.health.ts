import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { mkdir, statfs } from 'node:fs/promises';
import { ReadinessRegistry } from '@trainyard/runtime';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { AGENT_CONFIG, type AgentConfig } from '../config/agent.config';

/** The agent is of no use if it cannot write its work folders or upload what it trains. */
@Injectable()
export class StorageHealth implements OnModuleInit {
  constructor(
    private readonly readiness: ReadinessRegistry,
    @Inject(ARTIFACT_STORE) private readonly store: ArtifactStore,
    @Inject(AGENT_CONFIG) private readonly cfg: AgentConfig,
  ) {}

  onModuleInit(): void {
    this.readiness.add('storage', () => this.store.ping());
    this.readiness.add('disk', async () => {
      await mkdir(this.cfg.AGENT_WORK_DIR, { recursive: true });
      const fs = await statfs(this.cfg.AGENT_WORK_DIR);
      const freeGb = (fs.bavail * fs.bsize) / 1024 ** 3;
      if (freeGb < this.cfg.AGENT_MIN_FREE_DISK_GB) throw new Error(`${freeGb.toFixed(1)} GB free in ${this.cfg.AGENT_WORK_DIR}, below ${this.cfg.AGENT_MIN_FREE_DISK_GB} GB`);
      return { freeGb: Math.round(freeGb * 10) / 10 };
    });
  }
}
