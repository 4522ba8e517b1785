import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventMessage } from '@trainyard/contracts';
import { Consume } from '@trainyard/messaging';
import { AgentsService } from './agents.service';

@Controller()
export class AgentsController {
  constructor(private readonly agents: AgentsService) {}

  @Consume('agent.heartbeat', { concurrency: 4 })
  onHeartbeat(@Payload() m: EventMessage<'agent.heartbeat'>) {
    return this.agents.heartbeat(m);
  }
}
