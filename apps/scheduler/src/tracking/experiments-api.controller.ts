import { Controller, Get, Header, Param, Query, StreamableFile, UseGuards } from '@nestjs/common';
import { MetricKey } from '@trainyard/contracts';
import { ApiTokenGuard, ZodValidationPipe } from '@trainyard/runtime';
import { CompareQuery, ListTrackedRunsQuery, TrackedRunId } from './experiments-api.schemas';
import { TrackingService } from './tracking.service';

const RunIdParam = new ZodValidationPipe(TrackedRunId, 'id');
const MetricParam = new ZodValidationPipe(MetricKey, 'key');

/** Tracked runs (every training attempt) by experiment: list, show, a metric's series, and runs side by side. */
@UseGuards(ApiTokenGuard)
@Controller('experiments')
export class ExperimentsApiController {
  constructor(private readonly tracking: TrackingService) {}

  @Get()
  experiments() {
    return this.tracking.experiments();
  }

  @Get('runs')
  list(@Query(new ZodValidationPipe(ListTrackedRunsQuery, 'query')) q: ListTrackedRunsQuery) {
    return this.tracking.list(q);
  }

  @Get('runs/:id')
  show(@Param('id', RunIdParam) id: string) {
    return this.tracking.show(id);
  }

  /** The run as MLflow would hold it (params, tags, every metric point, artifacts): what `trainyard experiments export` writes. */
  @Get('runs/:id/export')
  exported(@Param('id', RunIdParam) id: string) {
    return this.tracking.trackedRun(id);
  }

  @Get('runs/:id/metrics/:key')
  series(@Param('id', RunIdParam) id: string, @Param('key', MetricParam) key: string) {
    return this.tracking.series(id, key);
  }

  @Get('compare')
  compare(@Query(new ZodValidationPipe(CompareQuery, 'query')) q: CompareQuery) {
    return this.tracking.compare(q.runs, q.metric);
  }

  @Get('compare.png')
  @Header('content-type', 'image/png')
  async compareChart(@Query(new ZodValidationPipe(CompareQuery, 'query')) q: CompareQuery) {
    return new StreamableFile(await this.tracking.compareChart(q.runs, q.metric));
  }
}
