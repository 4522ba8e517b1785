/**
 * The workspace's boundaries as an ESLint rule (`trainyard/boundaries`), from the files' places alone:
 *   - a project (apps/X, libs/X, tools/X) reaches another only through a library's package name,
 *     never a relative path into it; the harnesses that run the whole system (test/, tools/chaos,
 *     tools/fuzz) may load any project, as users run them;
 *   - `@trainyard/X` must name a library: an app is never imported, by anything;
 *   - libs/contracts imports no other library (its specs may use libs/testing) and nothing of Nest,
 *     the database, the bus client or S3: it is plain schemas and types that any process, or an
 *     outside client, can load.
 * Nx's project graph cannot see these imports in this layout (packages resolved through npm
 * workspaces, apps without a package.json), so the rule reads the paths itself: docs/code-shape.md.
 */
const { existsSync } = require('node:fs');
const { dirname, join, relative, resolve, sep } = require('node:path');

const ROOT = resolve(__dirname, '../..');
const CONTRACTS_BANNED = [/^@nestjs\//, /^typeorm$/, /^pg$/, /^@nats-io\//, /^@aws-sdk\//, /^ssh2$/, /^telegraf$/];

/** Harnesses that drive the whole system as users run it: they may load any project. */
const HARNESSES = new Set(['test', 'tools/chaos', 'tools/fuzz']);

/** `apps/scheduler`, `libs/contracts`, `tools/cli`, `test`; null outside every project. */
function projectOf(file) {
  const parts = relative(ROOT, file).split(sep);
  if (parts[0] === 'test') return 'test';
  if (['apps', 'libs', 'tools'].includes(parts[0]) && parts.length > 2) return `${parts[0]}/${parts[1]}`;
  return null;
}

const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'apps import libraries only, by package; libs/contracts imports nothing of Nest or another library' },
    schema: [],
  },
  create(context) {
    const file = context.filename;
    const from = projectOf(file);
    if (!from) return {};
    const check = (node, spec) => {
      if (typeof spec !== 'string') return;
      if (spec.startsWith('.')) {
        const to = projectOf(resolve(dirname(file), spec));
        if (to && to !== from && !HARNESSES.has(from)) context.report({ node, message: `${from} reaches into ${to} by a relative path: import a library by its package name (@trainyard/…)` });
        return;
      }
      const own = /^@trainyard\/([^/]+)/.exec(spec);
      if (own) {
        if (!existsSync(join(ROOT, 'libs', own[1], 'package.json'))) context.report({ node, message: `${spec} is not a library: apps are never imported` });
        else if (from === 'libs/contracts' && own[1] !== 'contracts' && !(own[1] === 'testing' && /\.spec\.ts$/.test(file)))
          context.report({ node, message: `libs/contracts imports no other library (${spec})` });
        return;
      }
      if (from === 'libs/contracts' && CONTRACTS_BANNED.some((re) => re.test(spec))) {
        context.report({ node, message: `libs/contracts stays plain schemas and types: no ${spec}` });
      }
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
      CallExpression: (node) => {
        if (node.callee.type === 'Identifier' && node.callee.name === 'require' && node.arguments[0]?.type === 'Literal') check(node, node.arguments[0].value);
      },
    };
  },
};

module.exports = { rules: { boundaries: rule } };
