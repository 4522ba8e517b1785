import { BadRequestException, Body, Controller, Get, Headers, HttpCode, NotFoundException, Param, Post, Query, UseGuards } from '@nestjs/common';
import type { Metrics } from '@trainyard/contracts';
import { ManualPromotionService } from '../promotion/manual-promotion.service';
import type { ModelVersionEntity } from '../registry/model-version.entity';
import { RegistryStore } from '../registry/registry.store';
import { keyName, keyOf, type ModelKey } from '../registry/model-key';
import { CompareQuery, ListModelsQuery, PromoteBody, RollbackBody, SymbolParam, VariantQuery, VersionParam } from './api-schemas';
import { ApiTokenGuard, ZodValidationPipe } from '@trainyard/runtime';

const SymbolPipe = new ZodValidationPipe(SymbolParam, 'symbol');
const VersionPipe = new ZodValidationPipe(VersionParam, 'version');
const VariantPipe = new ZodValidationPipe(VariantQuery, 'query');

@UseGuards(ApiTokenGuard)
@Controller('models')
export class ModelsApiController {
  constructor(
    private readonly registry: RegistryStore,
    private readonly manual: ManualPromotionService,
  ) {}

  @Get()
  async list(@Query(new ZodValidationPipe(ListModelsQuery, 'query')) q: ListModelsQuery) {
    return { ...(await this.registry.listVersions(q)), limit: q.limit, offset: q.offset };
  }

  /** Declared before `:symbol/:version`, which would otherwise take `compare` for a version. */
  @Get(':symbol/compare')
  async compare(@Param('symbol', SymbolPipe) symbol: string, @Query(new ZodValidationPipe(CompareQuery, 'query')) q: CompareQuery) {
    const key = keyOf(symbol, q.variant);
    const a = await this.version(key, q.a);
    const b = await this.version(key, q.b);
    const metrics = Object.fromEntries((Object.keys(a.metrics) as (keyof Metrics)[]).map((k) => [k, { a: a.metrics[k], b: b.metrics[k], difference: b.metrics[k] - a.metrics[k] }]));
    return {
      symbol,
      variant: q.variant,
      a: summary(a),
      b: summary(b),
      /** `difference` is b − a. */
      metrics,
      sameEvaluation: a.evaluationWindow.candles === b.evaluationWindow.candles && a.costs.feeBps === b.costs.feeBps && a.costs.spreadBps === b.costs.spreadBps,
    };
  }

  @Get(':symbol/:version')
  async show(@Param('symbol', SymbolPipe) symbol: string, @Param('version', VersionPipe) version: number, @Query(VariantPipe) q: VariantQuery) {
    const v = await this.version(keyOf(symbol, q.variant), version);
    return { ...v, decisions: await this.registry.decisionsOf(v.id) };
  }

  @Post(':symbol/rollback')
  @HttpCode(200)
  rollback(
    @Param('symbol', SymbolPipe) symbol: string,
    @Query(VariantPipe) q: VariantQuery,
    @Body(new ZodValidationPipe(RollbackBody, 'body')) body: RollbackBody,
    @Headers('idempotency-key') key?: string,
  ) {
    return this.manual.rollback(keyOf(symbol, q.variant), body.version, body.reason, idempotencyKey(key));
  }

  @Post(':symbol/promote')
  @HttpCode(200)
  promote(
    @Param('symbol', SymbolPipe) symbol: string,
    @Query(VariantPipe) q: VariantQuery,
    @Body(new ZodValidationPipe(PromoteBody, 'body')) body: PromoteBody,
    @Headers('idempotency-key') key?: string,
  ) {
    return this.manual.promote(keyOf(symbol, q.variant), body.version, body.reason, idempotencyKey(key));
  }

  private async version(key: ModelKey, version: number): Promise<ModelVersionEntity> {
    const found = await this.registry.findVersion(key, version);
    if (!found) throw new NotFoundException(`${keyName(key)} has no version ${version}`);
    return found;
  }
}

const summary = (v: ModelVersionEntity) => ({ version: v.version, stage: v.stage, runId: v.runId, createdAt: v.createdAt, evaluationWindow: v.evaluationWindow, costs: v.costs });

/** An Idempotency-Key makes a retried promote or rollback answer with what the first call did. */
function idempotencyKey(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (!/^[A-Za-z0-9._:-]{1,200}$/.test(key)) throw new BadRequestException('Idempotency-Key: 1 to 200 characters of letters, digits and . _ : -');
  return `api:${key}`;
}
