import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { z } from 'zod';
import { projectRoot } from '../../src/paths';
import { specSchema } from '../../src/spec/schema';

// docs/spec-reference.md is what a DBA reads instead of the schema: a field added to the schema
// and not to the reference (or left in the reference after it left the schema) fails here.

const LEAVES = new Set<string>([
  z.ZodFirstPartyTypeKind.ZodString, z.ZodFirstPartyTypeKind.ZodNumber, z.ZodFirstPartyTypeKind.ZodBoolean,
  z.ZodFirstPartyTypeKind.ZodLiteral, z.ZodFirstPartyTypeKind.ZodEnum, z.ZodFirstPartyTypeKind.ZodNativeEnum,
]);

/**
 * Every field path of a schema: dotted, `[]` for a list's element, `<name>` for a map's key. A
 * union's options share their path. Wrappers (optional, default, refinements) are looked through;
 * a kind of schema this walk does not know fails it, rather than hiding the fields inside.
 */
function fieldPaths(schema: z.ZodTypeAny, path = ''): string[] {
  const def = schema._def as { typeName: string } & Record<string, unknown>;
  const here = path === '' ? [] : [path];
  const join = (key: string) => (path === '' ? key : `${path}.${key}`);
  switch (def.typeName) {
    case z.ZodFirstPartyTypeKind.ZodOptional:
    case z.ZodFirstPartyTypeKind.ZodNullable:
    case z.ZodFirstPartyTypeKind.ZodDefault:
    case z.ZodFirstPartyTypeKind.ZodCatch:
    case z.ZodFirstPartyTypeKind.ZodReadonly:
      return fieldPaths(def.innerType as z.ZodTypeAny, path);
    case z.ZodFirstPartyTypeKind.ZodEffects:
      return fieldPaths(def.schema as z.ZodTypeAny, path);
    case z.ZodFirstPartyTypeKind.ZodBranded:
      return fieldPaths(def.type as z.ZodTypeAny, path);
    case z.ZodFirstPartyTypeKind.ZodPipeline:
      return fieldPaths(def.in as z.ZodTypeAny, path);
    case z.ZodFirstPartyTypeKind.ZodObject:
      return [...here, ...Object.entries((schema as z.AnyZodObject).shape).flatMap(([key, child]) => fieldPaths(child as z.ZodTypeAny, join(key)))];
    case z.ZodFirstPartyTypeKind.ZodArray:
      return fieldPaths(def.type as z.ZodTypeAny, `${path}[]`);
    case z.ZodFirstPartyTypeKind.ZodRecord:
      return [...here, ...fieldPaths(def.valueType as z.ZodTypeAny, join('<name>'))];
    case z.ZodFirstPartyTypeKind.ZodUnion:
    case z.ZodFirstPartyTypeKind.ZodDiscriminatedUnion:
      return [...new Set((def.options as z.ZodTypeAny[]).flatMap((option) => fieldPaths(option, path)))];
    default:
      if (LEAVES.has(def.typeName)) return here;
      throw new Error(`${path || 'the spec'}: a ${def.typeName} this walk does not know; teach it where its fields are`);
  }
}

/** The first column of every table row of the reference: exactly one path in backticks. */
function referencedPaths(markdown: string): string[] {
  const rows = markdown.split('\n').filter((line) => line.startsWith('|') && !/^\|[-| ]+\|$/.test(line) && !line.startsWith('| path |'));
  return rows.map((row) => {
    const m = /^\| `([^`]+)` \|/.exec(row);
    if (!m) throw new Error(`a row of the reference whose first column is not one path in backticks: ${row}`);
    return m[1];
  });
}

const reference = readFileSync(join(projectRoot(), 'docs', 'spec-reference.md'), 'utf8');

test('the walk finds fields inside wrappers, lists, maps and unions', () => {
  const schema = z.object({
    a: z.object({ b: z.number().optional() }).strict().optional(),
    list: z.array(z.object({ c: z.string().default('x') })).min(1),
    map: z.record(z.union([z.string(), z.object({ env: z.string() }).strict()])).superRefine(() => undefined),
    pick: z.discriminatedUnion('type', [z.object({ type: z.literal('x'), x: z.string() }), z.object({ type: z.literal('y'), y: z.string() })]),
  });
  assert.deepEqual(fieldPaths(schema), ['a', 'a.b', 'list[]', 'list[].c', 'map', 'map.<name>', 'map.<name>.env', 'pick', 'pick.type', 'pick.x', 'pick.y']);
  assert.throws(() => fieldPaths(z.object({ t: z.tuple([z.string()]) })), /t: a ZodTuple this walk does not know/);
});

test('the reference lists its rows once each, and reads them strictly', () => {
  const paths = referencedPaths(reference);
  assert.deepEqual(paths.filter((p, i) => paths.indexOf(p) !== i), []);
  assert.throws(() => referencedPaths('| path | type |\n|---|---|\n| stanza | string |'), /not one path in backticks/);
});

test('docs/spec-reference.md names every field of the spec schema, and no other', () => {
  const schema = new Set(fieldPaths(specSchema));
  const documented = new Set(referencedPaths(reference));
  assert.deepEqual({
    missingFromReference: [...schema].filter((p) => !documented.has(p)),
    notInSchema: [...documented].filter((p) => !schema.has(p)),
  }, { missingFromReference: [], notInSchema: [] });
});

test('the reference\'s systemd examples are valid postgres sections', () => {
  const section = reference.slice(reference.indexOf('### PostgreSQL under systemd'), reference.indexOf('## `pgbackrest`'));
  const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => YAML.parse(m[1]) as { postgres: unknown });
  assert.deepEqual(blocks.map((b) => (specSchema.innerType().shape.postgres.parse(b.postgres) as { control: unknown }).control), [
    { type: 'systemd', unit: 'edb-as-13' },
    { type: 'systemd', unit: 'postgresql-15' },
  ]);
});
