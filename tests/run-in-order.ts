/**
 * Runs test files N at a time in the order given, reports them as `node --test --test-reporter=spec`
 * does, then prints each file's wall time, longest first. scripts/test.sh runs the e2e phase with it.
 *
 *   node dist/tests/run-in-order.js CONCURRENCY FILE...
 *
 * Why not `node --test --test-concurrency=N FILE...`: node 20 sorts the files it is given by name
 * before it starts them, so it cannot start the longest first. This is that command (run() with the
 * spec reporter, exit 1 on a failed test that is not a todo) with the files in their given order.
 */
import { basename, resolve } from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';

const [concurrency, ...files] = process.argv.slice(2);
if (!(Number(concurrency) >= 1) || files.length === 0) {
  console.error('usage: node dist/tests/run-in-order.js CONCURRENCY FILE...');
  process.exit(2);
}

const walls: { file: string; seconds: number; passed: boolean }[] = [];
let failed = false;
const stream = run({ files, concurrency: Number(concurrency) });
stream.on('test:fail', (d) => {
  if (d.todo === undefined || d.todo === false) failed = true;
});
// A whole file is reported as a test named by its path, completed when its process ends (its own
// tests' events arrive later, in file order, while earlier files still run).
stream.on('test:complete', (d) => {
  if (d.nesting === 0 && d.file !== undefined && resolve(d.name) === d.file) walls.push({ file: d.file, seconds: d.details.duration_ms / 1000, passed: d.details.passed });
});

void (async () => {
  for await (const chunk of stream.compose(new spec())) process.stdout.write(chunk);
  walls.sort((a, b) => b.seconds - a.seconds);
  process.stdout.write(`\nwall time per file, longest first (${concurrency} at a time):\n`);
  for (const w of walls) process.stdout.write(`${w.seconds.toFixed(1).padStart(8)} s  ${basename(w.file)}${w.passed ? '' : '  FAILED'}\n`);
  process.exitCode = failed ? 1 : 0;
})();
