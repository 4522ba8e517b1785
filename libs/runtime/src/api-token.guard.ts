import { timingSafeEqual } from 'node:crypto';
import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';

/** The bearer tokens a service's REST API accepts: read-only ones, and operator ones that may also change things. */
export interface ApiTokens {
  read: string[];
  operator: string[];
}

export const API_TOKENS = Symbol('API_TOKENS');

const READING = new Set(['GET', 'HEAD']);

const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * `Authorization: Bearer <token>` on every route of the controllers it guards: a read token may GET,
 * an operator token may do anything. With no token configured the API answers nobody (secure by
 * default), and says which variable to set. Health and metrics are other controllers, left open.
 */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  constructor(@Inject(API_TOKENS) private readonly tokens: ApiTokens) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ method: string; headers: Record<string, string | undefined> }>();
    if (this.tokens.read.length === 0 && this.tokens.operator.length === 0) {
      throw new UnauthorizedException('this API accepts no one yet: set API_OPERATOR_TOKENS (and API_READ_TOKENS) on the service');
    }
    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) throw new UnauthorizedException('send Authorization: Bearer <token>');
    const operator = this.tokens.operator.some((t) => same(t, token));
    if (!operator && !this.tokens.read.some((t) => same(t, token))) throw new UnauthorizedException('unknown token');
    if (!operator && !READING.has(req.method.toUpperCase())) throw new ForbiddenException('a read token may only read; this needs an operator token');
    return true;
  }
}
