// The trainer agent as one file for rented machines, made by `npm run build` after tsc: the broker
// copies it to every instance it rents. Unpacking the agent's 8,000 node_modules files took an
// instance seconds of file creation; one file takes none. Rebuilt only when an input changed.
const { createHash } = require('node:crypto');
const { existsSync, readFileSync, statSync, writeFileSync } = require('node:fs');
const { join, relative } = require('node:path');
const esbuild = require('esbuild');

const root = join(__dirname, '..');
const agentDist = join(root, 'apps/trainer-agent/dist');
const out = join(agentDist, 'bundle');
/** The bundle's inputs with their digests: the broker refuses a bundle older than the workspace's build. */
const manifest = join(out, 'inputs.json');

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

function upToDate() {
  if (!existsSync(manifest)) return false;
  const { inputs, outputs } = JSON.parse(readFileSync(manifest, 'utf8'));
  return outputs.every((f) => existsSync(join(out, f))) && inputs.every((i) => existsSync(join(root, i.path)) && sha256(join(root, i.path)) === i.sha256);
}

/** A package the agent may require but that is not installed (Nest's optional transports and validators) stays a runtime require, which fails as it would unbundled. */
const optionalPackages = {
  name: 'optional-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData?.probing) return undefined;
      const found = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { probing: true } });
      return found.errors.length ? { path: args.path, external: true } : found;
    });
  },
};

/**
 * One output file that requires `files` in order. The entry is written here, with no "use strict":
 * a compiled entry's directive would head the output and put every bundled module in strict mode,
 * where parquetjs-lite's generated code (assigning undeclared names) throws.
 */
function bundle(name, files) {
  return esbuild.build({
    stdin: { contents: files.map((f) => `require(${JSON.stringify(`./${f}`)});\n`).join(''), resolveDir: agentDist, sourcefile: `${name}-entry.js` },
    outfile: join(out, `${name}.js`),
    // The metafile's paths are relative to this: the manifest's are the repository's.
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // Resolved as Node resolves a require (each package's CommonJS build), not esbuild's default of preferring ESM builds.
    conditions: [],
    mainFields: ['main'],
    // Nest and the logs name classes; bundling must not rename them.
    keepNames: true,
    metafile: true,
    logLevel: 'warning',
    plugins: [optionalPackages],
  });
}

async function main() {
  if (upToDate()) return;
  const started = Date.now();
  // Tracing starts before anything else loads, as `--require instrumentation.js` does for the services.
  const results = await Promise.all([bundle('agent', ['instrumentation.js', 'main.js']), bundle('builtin-worker', ['jobs/builtin-worker.js'])]);
  const outputs = results.flatMap((r) => Object.keys(r.metafile.outputs)).map((f) => relative(out, join(root, f)));
  const inputs = [...new Set(results.flatMap((r) => Object.keys(r.metafile.inputs)))]
    .filter((f) => !f.startsWith('<') && !f.endsWith('-entry.js'))
    .map((f) => ({ path: f, sha256: sha256(join(root, f)) }));
  writeFileSync(manifest, JSON.stringify({ outputs, inputs }, null, 1) + '\n');
  const bytes = outputs.reduce((sum, f) => sum + statSync(join(out, f)).size, 0);
  console.log(`agent bundle ${relative(root, out)}: ${outputs.join(', ')} (${(bytes / 1e6).toFixed(1)} MB from ${inputs.length} files, ${Date.now() - started} ms)`);
}

main().catch((err) => {
  console.error(`the agent bundle could not be made: ${err.message}`);
  process.exit(1);
});
