import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonSchemas } from './json-schema';

const dir = process.argv[2] ?? 'docs/events';
mkdirSync(dir, { recursive: true });
for (const [name, schema] of Object.entries(jsonSchemas())) {
  writeFileSync(join(dir, `${name}.schema.json`), JSON.stringify(schema, null, 2) + '\n');
}
console.log(`wrote ${Object.keys(jsonSchemas()).length} schemas to ${dir}`);
