import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe as suite, test } from 'node:test';
import { asUser, cmd, describe, quote, script, Secret, stdinValue, toShellLine, withStdin } from '../../src/shell/command';

// Every hostile string tries to create a file in `trap`: after all tests it must still be empty.
const trap = mkdtempSync(join(tmpdir(), 'stanzactl-quote-'));
after(() => rmSync(trap, { recursive: true, force: true }));

const hostile = [
  "'",
  '"',
  `$(touch ${trap}/dollar)`,
  `\`touch ${trap}/backtick\``,
  `; touch ${trap}/semicolon`,
  `&& touch ${trap}/and`,
  `x\ntouch ${trap}/newline\n`,
  '  two  spaces  ',
  '*',
  `${trap}/*`,
  '\\',
  '\\n',
  '',
  'unicode: żółć 雪 🐘',
  '-n',
  '--help',
  "it's \"quoted\" $HOME ${PATH} !! \t tab",
  '~root',
  '#comment',
  '| touch /dev/null',
  '> redirected',
];

/** Runs a rendered line in a real bash and returns what `printf '%s\0'` printed, split back into argv. */
function echoedArgv(line: string): string[] {
  const out = execFileSync('bash', ['-c', line], { encoding: 'utf8' });
  assert.ok(out.endsWith('\0'), `output ends with NUL: ${JSON.stringify(out)}`);
  return out.slice(0, -1).split('\0');
}

suite('toShellLine', () => {
  test('a real bash gets back exactly the argv, for every hostile string', () => {
    for (const s of hostile) {
      assert.deepEqual(echoedArgv(toShellLine(cmd('printf', '%s\\0', s), 'root')), [s], JSON.stringify(s));
    }
    assert.deepEqual(echoedArgv(toShellLine(cmd('printf', '%s\\0', ...hostile), 'root')), hostile);
    assert.deepEqual(readdirSync(trap), [], 'nothing was executed or created');
  });

  test('a Secret renders its value on the line, and only there', () => {
    const c = cmd('printf', '%s\\0', new Secret("pa'ss $(touch x) word"));
    assert.deepEqual(echoedArgv(toShellLine(c, 'root')), ["pa'ss $(touch x) word"]);
    assert.ok(!describe(c).includes('pa'));
  });

  test('quote leaves plain words bare and refuses NUL', () => {
    assert.equal(quote('pgbackrest'), 'pgbackrest');
    assert.equal(quote('--stanza=main'), '--stanza=main');
    assert.equal(quote(''), "''");
    assert.throws(() => quote('a\0b'), /NUL/);
    assert.throws(() => toShellLine(cmd('echo', 'a\0b'), 'root'), /NUL/);
  });

  test('runs from / so tools run as another user can stat their cwd', () => {
    assert.equal(execFileSync('bash', ['-c', toShellLine(cmd('pwd'), 'root')], { cwd: trap, encoding: 'utf8' }), '/\n');
  });
});

suite('script', () => {
  test('hostile args reach the body as positional parameters, never as code', () => {
    const c = script('printf "%s\\0" "$#" "$@"', ...hostile);
    assert.deepEqual(echoedArgv(toShellLine(c, 'root')), [String(hostile.length), ...hostile]);
    assert.deepEqual(readdirSync(trap), []);
  });

  test('$0 is stanzactl, so bash error messages name us', () => {
    assert.deepEqual(echoedArgv(toShellLine(script('printf "%s\\0" "$0"'), 'root')), ['stanzactl']);
  });
});

suite('asUser', () => {
  test('renders runuser for a root login and sudo -n -H for a sudo login', () => {
    const c = asUser('postgres', cmd('psql', '-c', 'select 1'));
    assert.equal(toShellLine(c, 'root'), "cd / && runuser -u postgres -- psql -c 'select 1'");
    assert.equal(toShellLine(c, 'sudo'), "cd / && sudo -n -H -u postgres -- psql -c 'select 1'");
    assert.equal(toShellLine(cmd('id'), 'sudo'), 'cd / && sudo -n -- id');
    assert.equal(toShellLine(cmd('id'), 'root'), 'cd / && id');
  });

  test('runuser really switches user, with hostile args intact', { skip: process.getuid?.() !== 0 && 'needs root' }, () => {
    const line = toShellLine(asUser('nobody', script('id -un; printf "%s\\0" "$@"', ...hostile)), 'root');
    const out = execFileSync('bash', ['-c', line], { encoding: 'utf8' });
    assert.ok(out.startsWith('nobody\n'), out);
    assert.deepEqual(out.slice('nobody\n'.length, -1).split('\0'), hostile);
    assert.deepEqual(readdirSync(trap), []);
  });
});

suite('Secret masking', () => {
  const pw = new Secret('hunter2');

  test('describe shows *** where a Secret is', () => {
    const c = asUser('postgres', cmd('psql', '-c', pw, 'x y'));
    assert.equal(describe(c), "cd / && runuser -u postgres -- psql -c *** 'x y'");
    assert.equal(describe(c, 'sudo'), "cd / && sudo -n -H -u postgres -- psql -c *** 'x y'");
  });

  test('JSON, String and template literals give ***', () => {
    assert.equal(JSON.stringify(pw), '"***"');
    assert.equal(JSON.stringify({ argv: ['a', pw] }), '{"argv":["a","***"]}');
    assert.equal(String(pw), '***');
    assert.equal(`${pw}`, '***');
    assert.ok(!JSON.stringify(withStdin(cmd('cat'), pw)).includes('hunter2'));
  });

  test('stdin carries the value and stays off the command line', () => {
    const c = withStdin(cmd('cat'), pw);
    assert.equal(stdinValue(c), 'hunter2');
    assert.ok(!toShellLine(c, 'root').includes('hunter2'));
    assert.equal(stdinValue(withStdin(cmd('cat'), 'plain')), 'plain');
    assert.equal(stdinValue(cmd('cat')), undefined);
  });
});
