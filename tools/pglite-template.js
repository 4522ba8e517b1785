// The empty cluster `trainyard up` unpacks a new embedded database from (a third of initdb's time),
// made once per PGlite version as part of `npm run build`.
const { existsSync } = require('node:fs');
const { makePgliteTemplate, pgliteTemplatePath } = require('../libs/persistence/dist');

const out = pgliteTemplatePath();
if (!existsSync(out)) {
  const started = Date.now();
  makePgliteTemplate(out).then(
    () => console.log(`embedded PostgreSQL template ${out} (${Date.now() - started} ms)`),
    (err) => {
      console.error(`the embedded PostgreSQL template could not be made: ${err.message}`);
      process.exit(1);
    },
  );
}
