import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../functions/handlers/http/route-table.js';
import { buildEngineApp } from '../../lib/app.js';
import {
  BUDGET_RATIO,
  CLIENT_MARKERS,
  FUNCTION_DEPENDENCIES,
  HEALTH_BUDGET_BYTES,
  floorBytes,
  floorCode,
  handlerBytes,
  type Dependency,
  type FunctionName,
} from './bundle-floor.js';

/**
 * The Lambda bundles as `cdk synth` makes them (local esbuild, ESM, minified, source maps), loaded
 * the way the Node.js 24 runtime loads them: `import()` of index.mjs, then the `handler` export.
 * A bundle that synthesizes but cannot start (a CommonJS require in ESM, a missing module, a
 * variable its config needs that the stack does not give it) fails here instead of at the first
 * cold start.
 */
const outdir = mkdtempSync(join(tmpdir(), 'engine-bundles-'));
const app = new App({
  outdir,
  // CDK's CloudFormation schema validation runs in `npm run synth`; not again here
  builtinCloudFormationValidation: false,
  context: { stage: 'test', 'aws:cdk:bundling-stacks': ['**'], 'aws:cdk:enable-asset-metadata': true },
});
const { stateless } = buildEngineApp(app);
const assembly = app.synth();
interface Resource {
  Type: string;
  Metadata?: Record<string, string>;
  Properties?: {
    Environment?: { Variables?: Record<string, unknown> };
    FunctionName?: { Ref?: string };
    /** set on stream (DynamoDB) mappings only */
    StartingPosition?: string;
  };
}
const template = assembly.getStackByName(stateless.stackName).template as { Resources: Record<string, Resource> };
/** The function's environment as the stack declares it; values CloudFormation resolves at deploy time get a placeholder URL. */
const environmentOf = (variables: Record<string, unknown> = {}): Record<string, string> =>
  Object.fromEntries(
    Object.entries(variables).map(([k, v]) => [k, typeof v === 'string' ? v : `https://deploy-time.invalid/${k}`]),
  );
const bundles = Object.entries(template.Resources)
  .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
  .map(([id, r]) => ({
    id,
    dir: join(outdir, r.Metadata!['aws:asset:path']!),
    env: environmentOf(r.Properties?.Environment?.Variables),
  }));

/** The stack's functions by construct id (HttpAdmin, IngestConsumer, ...), with their bundles. */
const functions = Object.entries(stateless.functions).map(([name, f]) => {
  const id = stateless.getLogicalId(f.fn.node.defaultChild as CfnElement);
  const resource = template.Resources[id]!;
  const dir = join(outdir, resource.Metadata!['aws:asset:path']!);
  return {
    name: name as FunctionName,
    id,
    dir,
    /** size of the bundle's main file */
    bytes: statSync(join(dir, 'index.mjs')).size,
    env: Object.keys(resource.Properties?.Environment?.Variables ?? {}),
    /** an SQS event source (a stream's mapping has a starting position, a queue's none) */
    consumesQueue: Object.values(template.Resources).some(
      (r) =>
        r.Type === 'AWS::Lambda::EventSourceMapping' &&
        r.Properties?.FunctionName?.Ref === id &&
        r.Properties.StartingPosition === undefined,
    ),
  };
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('Lambda bundles', () => {
  it('are ESM, minified, with a linked source map and no inlined sources', () => {
    expect(bundles).toHaveLength(10);
    for (const b of bundles) {
      const code = readFileSync(join(b.dir, 'index.mjs'), 'utf8');
      expect(code.startsWith("import { createRequire } from 'node:module';"), b.id).toBe(true);
      expect(code.length / code.split('\n').length, `${b.id} is minified (characters per line)`).toBeGreaterThan(1000);
      expect(code, b.id).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
      expect(
        (JSON.parse(readFileSync(join(b.dir, 'index.mjs.map'), 'utf8')) as { sourcesContent?: unknown }).sourcesContent,
        b.id,
      ).toBeUndefined();
    }
  });

  it('load in a plain Node.js process and export a handler; the health bundle answers GET /health, and problem+json for others', () => {
    // A child process, not vitest's module runner: exactly what the Lambda runtime does with a bundle.
    const script = `
      const dirs = JSON.parse(process.argv[1]);
      const out = {};
      for (const [id, dir] of Object.entries(dirs)) {
        const mod = await import(new URL('file://' + dir + '/index.mjs').href);
        out[id] = typeof mod.handler;
        if (id.startsWith('HttpHealth')) {
          const res = await mod.handler({ routeKey: 'GET /health', rawPath: '/health', headers: {}, requestContext: {} }, { functionName: 'health', awsRequestId: 'test' });
          out.health = { statusCode: res.statusCode, body: JSON.parse(res.body) };
          const missing = await mod.handler({ routeKey: 'GET /nope', rawPath: '/nope', headers: {}, requestContext: {} }, { functionName: 'health', awsRequestId: 'test' });
          out.missing = { statusCode: missing.statusCode, body: JSON.parse(missing.body) };
        }
      }
      process.stdout.write(JSON.stringify(out));`;
    const stdout = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', script, JSON.stringify(Object.fromEntries(bundles.map((b) => [b.id, b.dir])))],
      {
        env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', POWERTOOLS_LOG_LEVEL: 'SILENT' },
        encoding: 'utf8',
      },
    );
    const out = JSON.parse(stdout) as Record<string, unknown>;
    for (const b of bundles) expect(out[b.id], b.id).toBe('function');
    expect(out.health).toEqual({ statusCode: 200, body: { ok: true } });
    // minified (class names too), the problem type is still the error's explicit type
    expect(out.missing).toMatchObject({ statusCode: 404, body: { type: 'urn:problem:not-found', status: 404 } });
  });
});

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

describe('bundle budgets', () => {
  const floors = new Map<FunctionName, number>();

  beforeAll(async () => {
    for (const f of functions) {
      const deps: readonly Dependency[] = FUNCTION_DEPENDENCIES[f.name] ?? [];
      if (deps.length) floors.set(f.name, await floorBytes(deps));
    }
    const rows = functions.map((f) => {
      const floor = floors.get(f.name);
      const budget = floor === undefined ? HEALTH_BUDGET_BYTES : BUDGET_RATIO * floor;
      return [
        f.name,
        kib(f.bytes),
        floor === undefined ? '-' : kib(floor),
        floor === undefined ? '-' : `${(f.bytes / floor).toFixed(2)}x`,
        kib(budget),
        f.bytes <= budget ? 'ok' : 'OVER',
      ];
    });
    const table = [['function', 'size', 'floor', 'ratio', 'budget', ''], ...rows];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
    console.log(
      `Lambda bundles (index.mjs) against their floors (SDK clients + Powertools only), budget ${BUDGET_RATIO}x:\n` +
        table
          .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
          .join('\n'),
    );
  }, 120_000);

  it('declare the dependencies of every function of the stack, and of no other', () => {
    expect(functions.map((f) => f.name).sort()).toEqual(Object.keys(FUNCTION_DEPENDENCIES).sort());
  });

  it('declare the SDK clients and Powertools utilities the stack wires each function for', () => {
    // what the stack grants (and configures) implies a client; a declaration without the grant is as wrong
    const wired = (f: (typeof functions)[number]): Partial<Record<Dependency, boolean>> => ({
      dynamodb: f.env.includes('TABLE_NAME'),
      scheduler: f.env.includes('SCHEDULE_GROUP_NAME'),
      sqs: f.env.some((k) => k.endsWith('_QUEUE_URL')),
      batch: f.consumesQueue,
    });
    for (const f of functions) {
      const declared: readonly Dependency[] = FUNCTION_DEPENDENCIES[f.name];
      const expected = Object.fromEntries(Object.keys(wired(f)).map((d) => [d, declared.includes(d as Dependency)]));
      expect(wired(f), f.name).toEqual(expected);
    }
  });

  it('carry no SDK client they do not declare (the table-only functions build no scheduler or SQS client)', async () => {
    for (const [dep, marker] of Object.entries(CLIENT_MARKERS) as [Dependency, string][]) {
      // the marker is the client's: in its floor, not in the table's
      expect(await floorCode([dep]), dep).toContain(marker);
      expect(await floorCode(['dynamodb', 'logger', 'metrics', 'tracer', 'batch']), dep).not.toContain(marker);
      for (const f of functions) {
        const declared = (FUNCTION_DEPENDENCIES[f.name] as readonly Dependency[]).includes(dep);
        expect(readFileSync(join(f.dir, 'index.mjs'), 'utf8').includes(marker), `${f.name} and ${dep}`).toBe(declared);
      }
    }
  });

  it("are built with the stack's esbuild options: rebuilding a handler gives its bundle byte for byte", async () => {
    for (const [name, handler] of [
      ['HttpHealth', 'http/health'],
      ['HttpQueues', 'http/queues'],
    ] as const) {
      expect(await handlerBytes(handler), name).toBe(functions.find((f) => f.name === name)!.bytes);
    }
  });

  it("hold each HTTP group to its own routes: no bundle has another group's paths", () => {
    for (const f of functions.filter((x) => x.name.startsWith('Http'))) {
      const code = readFileSync(join(f.dir, 'index.mjs'), 'utf8');
      const group = f.name.slice(4).toLowerCase();
      const foreign = ROUTES.filter(
        (r) => r.group !== group && new RegExp(`["'\`]${r.path.replace(/[{}]/g, '\\$&')}["'\`]`).test(code),
      );
      expect(
        foreign.map((r) => `${r.method} ${r.path} (${r.group})`),
        f.name,
      ).toEqual([]);
    }
  });

  it.each(functions.map((f) => f.name))('%s stays within its budget', (name) => {
    const f = functions.find((x) => x.name === name)!;
    const floor = floors.get(name);
    if (floor === undefined) {
      expect(f.bytes, `${name}: ${kib(f.bytes)}, budget ${kib(HEALTH_BUDGET_BYTES)}`).toBeLessThanOrEqual(
        HEALTH_BUDGET_BYTES,
      );
    } else {
      expect(
        f.bytes,
        `${name}: ${kib(f.bytes)} is ${(f.bytes / floor).toFixed(2)}x its floor of ${kib(floor)} (budget ${BUDGET_RATIO}x)`,
      ).toBeLessThanOrEqual(BUDGET_RATIO * floor);
    }
  });

  it('start with the environment the stack gives them, and fail naming a missing variable without it', () => {
    // Each bundle in its own process, as Lambda runs it. With the stack's variables: an HTTP function
    // answers a route it does not have with 404, a consumer an empty batch with no failures (so its
    // config was read and its clients built; the sweeper would scan the table, so it is only built
    // without them). With none: every function but health fails, naming the first variable it needs.
    const script = `
      const [dir, id] = process.argv.slice(1);
      const mod = await import(new URL('file://' + dir + '/index.mjs').href);
      const context = { functionName: id, awsRequestId: 'test', getRemainingTimeInMillis: () => 10000 };
      const event = id.startsWith('Http')
        ? { routeKey: 'GET /not-a-route', rawPath: '/not-a-route', headers: {}, requestContext: {} }
        : { Records: [] };
      try {
        const res = await mod.handler(event, context);
        process.stdout.write('\\n' + JSON.stringify({ ok: res.statusCode ?? res }));
      } catch (err) {
        process.stdout.write('\\n' + JSON.stringify({ error: String(err.message) }));
      }`;
    const run = (b: (typeof bundles)[number], env: Record<string, string>): { ok?: unknown; error?: string } =>
      JSON.parse(
        execFileSync(process.execPath, ['--input-type=module', '-e', script, b.dir, b.id], {
          env: { PATH: process.env.PATH, POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_TRACE_ENABLED: 'false', ...env },
          encoding: 'utf8',
          // Powertools' "no application metrics to publish" warning: not this test's business
          stdio: ['ignore', 'pipe', 'pipe'],
        })
          // the last line: EMF metrics a handler flushes (to stdout, as in Lambda) come before it
          .split('\n')
          .at(-1)!,
      ) as { ok?: unknown; error?: string };
    for (const b of bundles) {
      if (!b.id.startsWith('Sweeper')) {
        expect(run(b, { AWS_REGION: 'us-east-1', ...b.env }), `${b.id} with the stack's environment`).toEqual({
          ok: b.id.startsWith('Http') ? 404 : { batchItemFailures: [] },
        });
      }
      if (b.id.startsWith('HttpHealth')) continue;
      expect(run(b, {}).error, `${b.id} without its environment`).toContain(
        'environment variable TABLE_NAME is required',
      );
    }
  });
});
