import { Controller, HttpCode, Post } from '@nestjs/common';
import { RetentionService } from '../retention/retention.service';

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
