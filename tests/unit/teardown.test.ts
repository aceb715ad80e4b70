import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

// A process with three fixtures' teardowns (the fault matrix has one per lab), stopped by SIGTERM.
const CHILD = `
const { writeFileSync } = require('node:fs');
const { guardedTeardown } = require(process.argv[1]);
const dir = process.argv[2];
const slow = (name, ms) => guardedTeardown(() => new Promise((r) => setTimeout(() => { writeFileSync(dir + '/' + name, ''); r(); }, ms)));
slow('fast', 10); slow('slow', 400);
const done = slow('done-before', 0);
done().then(() => { process.stdout.write('ready\\n'); setInterval(() => undefined, 1000); });
`;

test('a signal runs every fixture\'s teardown to its end before the process exits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stanzactl-teardown-'));
  try {
    const child = spawn(process.execPath, ['-e', CHILD, require.resolve('../e2e/harness'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 143);
    assert.deepEqual(['fast', 'slow', 'done-before'].map((f) => existsSync(join(dir, f))), [true, true, true]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
