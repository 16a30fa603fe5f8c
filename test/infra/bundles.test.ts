import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { buildEngineApp } from '../../lib/app.js';

/**
 * The Lambda bundles as `cdk synth` makes them (local esbuild, ESM, minified, source maps), loaded
 * the way the Node.js 24 runtime loads them: `import()` of index.mjs, then the `handler` export.
 * A bundle that synthesizes but cannot start (a CommonJS require in ESM, a missing module) fails
 * here instead of at the first cold start.
 */
const outdir = mkdtempSync(join(tmpdir(), 'engine-bundles-'));
process.env.CDK_VALIDATION = 'false';
const app = new App({
  outdir,
  context: { stage: 'test', 'aws:cdk:bundling-stacks': ['**'], 'aws:cdk:enable-asset-metadata': true },
});
const { stateless } = buildEngineApp(app);
const assembly = app.synth();
const template = assembly.getStackByName(stateless.stackName).template as {
  Resources: Record<string, { Type: string; Metadata?: Record<string, string> }>;
};
const bundles = Object.entries(template.Resources)
  .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
  .map(([id, r]) => ({ id, dir: join(outdir, r.Metadata!['aws:asset:path']!) }));

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('Lambda bundles', () => {
  it('are ESM, minified, with a linked source map and no inlined sources', () => {
    expect(bundles).toHaveLength(9);
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
    // minified, yet the problem type still comes from the error's class name (keepNames)
    expect(out.missing).toMatchObject({ statusCode: 404, body: { type: 'urn:problem:not-found', status: 404 } });
  });
});
