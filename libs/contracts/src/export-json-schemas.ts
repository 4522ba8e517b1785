import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { jsonSchemas, queryJsonSchemas } from './json-schema';

const dir = process.argv[2] ?? 'docs/events';
const queriesDir = process.argv[3] ?? join(dirname(dir), 'queries');
for (const [target, schemas] of [
  [dir, jsonSchemas()],
  [queriesDir, queryJsonSchemas()],
] as const) {
  mkdirSync(target, { recursive: true });
  for (const [name, schema] of Object.entries(schemas)) writeFileSync(join(target, `${name}.schema.json`), JSON.stringify(schema, null, 2) + '\n');
  console.log(`wrote ${Object.keys(schemas).length} schemas to ${target}`);
}
