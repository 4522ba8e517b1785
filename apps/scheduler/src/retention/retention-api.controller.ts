import { Controller, Get, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiTokenGuard } from '@trainyard/runtime';
import { RecordRetentionService } from './record-retention.service';
import { RetentionStore } from './retention.store';

/** Retention on demand, and what the daily passes freed. */
@UseGuards(ApiTokenGuard)
@Controller('retention')
export class RetentionApiController {
  constructor(
    private readonly retention: RecordRetentionService,
    private readonly store: RetentionStore,
  ) {}

  /** A pass now, besides the daily one. */
  @Post('run')
  @HttpCode(200)
  run() {
    return this.retention.run();
  }

  @Get('passes')
  passes() {
    return this.store.recentPasses(30);
  }
}
