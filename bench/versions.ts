import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * This checkout's provision, backup and rebuild benches against another checkout's (an older
 * commit, built, with its node_modules), in one run: each round runs every bench on both sides, the
 * order alternating, so load that drifts over the run falls on both alike. Prints each side's
 * median and the change (goal: within 5 %).
 *
 *   npx tsc -p . && node dist/bench/versions.js --base /path/to/old/checkout [--rounds 3] [--only provision,backup,rebuild]   # as root
 */

interface Measure {
  readonly name: string;
  readonly args: string[];
  /** The seconds a bench's output gives for each measure. */
  readonly parse: (out: string) => Record<string, number>;
}

const num = (out: string, re: RegExp, what: string): number => {
  const m = re.exec(out);
  if (!m) throw new Error(`no ${what} in the bench's output:\n${out.slice(-2000)}`);
  return Number(m[1]);
};

const BENCHES: Measure[] = [
  {
    name: 'provision', args: ['--runs', '1'],
    // The median row: run, order, shell s, ssh, workflow s, ssh, ratio, no-op s.
    parse: (out) => {
      const cells = /^median\s+(.*)$/m.exec(out)?.[1].trim().split(/\s+/) ?? [];
      if (cells.length < 6) throw new Error(`no median row in the provision bench's output:\n${out.slice(-2000)}`);
      return { 'provision workflow s': Number(cells[2]), 'provision / shell ratio': Number(cells[4]), 'no-op provision s': Number(cells[5]) };
    },
  },
  {
    name: 'backup', args: ['--runs', '3', '--type', 'incr'],
    parse: (out) => ({ 'incr backup workflow s': num(out, /workflow ([\d.]+) s, overhead/, 'workflow median'), 'backup overhead s': num(out, /overhead (-?[\d.]+) s \(goal/, 'overhead') }),
  },
  {
    name: 'rebuild', args: ['--scale', '5', '--runs', '1'],
    parse: (out) => ({
      'rebuild (delta by checksum) workflow s': num(out, /delta by checksum: restore [\d.]+ s, rebuild workflow ([\d.]+) s/, 'delta rebuild'),
      'rebuild (empty) workflow s': num(out, /empty: restore [\d.]+ s, rebuild workflow ([\d.]+) s/, 'empty rebuild'),
    }),
  },
];

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error('usage: node dist/bench/versions.js --base CHECKOUT [--rounds N] [--only provision,backup,rebuild]');
  return v;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function runBench(checkout: string, b: Measure): Record<string, number> {
  const script = join(checkout, 'dist', 'bench', `${b.name}.js`);
  if (!existsSync(script)) throw new Error(`${script} is missing: build that checkout first (npx tsc -p .)`);
  const r = spawnSync(process.execPath, [script, ...b.args], { cwd: checkout, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${b.name} bench in ${checkout} exited ${r.status}:\n${r.stdout.slice(-2000)}`);
  return b.parse(r.stdout);
}

function main(): void {
  const sides = { base: resolve(arg('base')), new: resolve(join(__dirname, '..', '..')) };
  const rounds = Number(arg('rounds', '3'));
  const only = arg('only', BENCHES.map((b) => b.name).join(',')).split(',');
  const benches = BENCHES.filter((b) => only.includes(b.name));
  if (benches.length !== only.length) throw new Error(`--only takes ${BENCHES.map((b) => b.name).join(', ')}`);
  const seen: Record<'base' | 'new', Record<string, number[]>> = { base: {}, new: {} };
  for (let round = 0; round < rounds; round++) {
    for (const b of benches) {
      for (const side of (round % 2 ? ['new', 'base'] : ['base', 'new']) as ('base' | 'new')[]) {
        const got = runBench(sides[side], b);
        for (const [k, v] of Object.entries(got)) (seen[side][k] ??= []).push(v);
        console.log(`round ${round + 1} ${b.name} ${side}: ${Object.entries(got).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      }
    }
  }
  console.log(`\nmedians of ${rounds} rounds; base ${sides.base}, new ${sides.new}`);
  console.log(`${'measure'.padEnd(40)} ${'base'.padStart(8)} ${'new'.padStart(8)} ${'change'.padStart(8)}`);
  for (const k of Object.keys(seen.base)) {
    const [a, b] = [median(seen.base[k]), median(seen.new[k] ?? [])];
    console.log(`${k.padEnd(40)} ${a.toFixed(2).padStart(8)} ${b.toFixed(2).padStart(8)} ${`${(((b - a) / a) * 100).toFixed(1)} %`.padStart(8)}`);
  }
}

main();
