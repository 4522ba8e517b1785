import { Body, Controller, Get, Header, HttpCode, Param, Post, Query, StreamableFile, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { Id } from '@trainyard/contracts';
import { ApiTokenGuard, ZodValidationPipe } from '@trainyard/runtime';
import { StudyRequest } from './study-request';
import { StudyService } from './study.service';

const PromoteBestBody = z.object({ promote: z.enum(['auto', 'dry']).default('auto') }).strict();
const ListStudiesQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50), offset: z.coerce.number().int().min(0).default(0) }).strict();

/** Hyperparameter studies: start one, list them, and follow one (trials, best, history, importance). */
@UseGuards(ApiTokenGuard)
@Controller('studies')
export class StudiesApiController {
  constructor(private readonly studies: StudyService) {}

  @Post()
  @HttpCode(201)
  async create(@Body(new ZodValidationPipe(StudyRequest, 'body')) body: StudyRequest) {
    return this.studies.view((await this.studies.create(body)).id);
  }

  @Get()
  list(@Query(new ZodValidationPipe(ListStudiesQuery, 'query')) q: z.output<typeof ListStudiesQuery>) {
    return this.studies.list(q.limit, q.offset);
  }

  /** The best trial's params trained as a production run the promoter judges (`promote`: auto or dry). */
  @Post(':id/promote-best')
  @HttpCode(202)
  promoteBest(@Param('id', new ZodValidationPipe(Id, 'id')) id: string, @Body(new ZodValidationPipe(PromoteBestBody, 'body')) body: z.output<typeof PromoteBestBody>) {
    return this.studies.promoteBest(id, body.promote);
  }

  @Get(':id/history.png')
  @Header('content-type', 'image/png')
  async history(@Param('id', new ZodValidationPipe(Id, 'id')) id: string) {
    return new StreamableFile(await this.studies.historyChart(id));
  }

  @Get(':id/importance.png')
  @Header('content-type', 'image/png')
  async importance(@Param('id', new ZodValidationPipe(Id, 'id')) id: string) {
    return new StreamableFile(await this.studies.importanceChart(id));
  }

  @Get(':id')
  show(@Param('id', new ZodValidationPipe(Id, 'id')) id: string) {
    return this.studies.view(id);
  }
}
