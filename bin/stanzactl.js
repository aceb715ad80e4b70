#!/usr/bin/env node
require('../dist/src/cli.js').main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`stanzactl: ${err && err.message ? err.message : err}`); process.exitCode = 1; },
);
