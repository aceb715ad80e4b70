import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeFree, parseDfBytes } from '../../src/facts/disk-space';

test('df -B1 --output=avail,size: bytes available and total, said the way a DBA reads them', () => {
  const s = parseDfBytes('   Avail 1B-blocks\n    4096  15728640\n');
  assert.deepEqual(s, { available: 4096, size: 15728640 });
  assert.equal(describeFree(s), '4.0 KiB of 15.0 MiB free');
  assert.equal(describeFree({ available: 0, size: 1023 }), '0 B of 1023 B free');
  assert.throws(() => parseDfBytes('df: /x: No such file or directory\n'), /unexpected output from df/);
});
