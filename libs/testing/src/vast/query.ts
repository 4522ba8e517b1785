/** Vast's filter and ordering semantics, shared by offer search (POST /bundles/) and the v1 instance list. */

export type Row = Record<string, unknown>;

const OPS = ['eq', 'neq', 'gt', 'lt', 'gte', 'lte', 'in', 'notin'] as const;
export type Op = (typeof OPS)[number];

export function isOp(op: string): op is Op {
  return (OPS as readonly string[]).includes(op);
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' || typeof b === 'boolean') return Number(a) - Number(b);
  return String(a).localeCompare(String(b));
}

function holds(actual: unknown, op: Op, value: unknown): boolean {
  switch (op) {
    case 'eq':
      return actual === value;
    case 'neq':
      return actual !== value;
    case 'in':
      return Array.isArray(value) && value.includes(actual);
    case 'notin':
      return Array.isArray(value) && !value.includes(actual);
    default:
      // Vast's SQL comparisons never match a NULL column.
      if (actual === null || actual === undefined || value === null || value === undefined) return false;
      if (op === 'gt') return compare(actual, value) > 0;
      if (op === 'lt') return compare(actual, value) < 0;
      if (op === 'gte') return compare(actual, value) >= 0;
      return compare(actual, value) <= 0;
  }
}

/** `{"op": value, ...}` for one column; a bare value means eq (the CLI sends some that way). Unknown ops are ignored. */
export function matchesColumn(actual: unknown, condition: unknown): boolean {
  if (condition === null || typeof condition !== 'object' || Array.isArray(condition)) return actual === condition;
  return Object.entries(condition as Record<string, unknown>).every(([op, value]) => !isOp(op) || holds(actual, op, value));
}

/** Orders rows by [column, dir] pairs, nulls last, then by id so the order is total (what keyset pagination needs). */
export function comparator(order: Array<[string, 'asc' | 'desc']>): (a: Row, b: Row) => number {
  const keys = [...order.filter(([col]) => col !== 'id'), ['id', order.find(([col]) => col === 'id')?.[1] ?? 'asc'] as [string, 'asc' | 'desc']];
  return (a, b) => {
    for (const [col, dir] of keys) {
      const x = a[col];
      const y = b[col];
      if (x === y) continue;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      const c = compare(x, y);
      if (c !== 0) return dir === 'desc' ? -c : c;
    }
    return 0;
  };
}

export function sortRows<T extends Row>(rows: T[], order: Array<[string, 'asc' | 'desc']>): T[] {
  return [...rows].sort(comparator(order));
}
