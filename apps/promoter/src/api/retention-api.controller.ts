import { Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiTokenGuard } from '@trainyard/runtime';
import { RetentionService } from '../retention/retention.service';

@UseGuards(ApiTokenGuard)
@Controller('retention')
export class RetentionApiController {
  constructor(private readonly retention: RetentionService) {}

  /** Runs retention now rather than at the next interval, and answers with its report. */
  @Post('run')
  @HttpCode(200)
  run() {
    return this.retention.run();
  }
}
