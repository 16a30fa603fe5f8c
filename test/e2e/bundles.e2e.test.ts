import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_GROUPS } from '../../functions/handlers/http/route-table.js';
import { BundlesUnavailableError, defaultOutdir, readBundles } from '../../bin/local/bundles.js';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, startRuntime } from '../support/e2e.js';

/**
 * `startLocalRuntime({ bundles: true })` (`npm start -- --bundles`) runs the Lambda bundles of
 * cdk.out. readme.e2e.test.ts and push.e2e.test.ts run their flows on it; this checks that what
 * runs is really each function's bundle, and that a missing or stale cdk.out fails, saying what to do.
 */

/** The stack's functions as the synthesized templates declare them: construct id -> asset folder. */
function synthesizedFunctions(): Map<string, string> {
  const outdir = defaultOutdir();
  const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { templateFile?: string } }>;
  };
  const out = new Map<string, string>();
  for (const a of Object.values(manifest.artifacts)) {
    if (a.type !== 'aws:cloudformation:stack') continue;
    const template = JSON.parse(readFileSync(join(outdir, a.properties!.templateFile!), 'utf8')) as {
      Resources: Record<string, { Type: string; Metadata?: Record<string, string> }>;
    };
    for (const r of Object.values(template.Resources)) {
      if (r.Type !== 'AWS::Lambda::Function' || !r.Metadata?.['aws:asset:path']) continue;
      out.set(r.Metadata['aws:cdk:path']!.split('/')[1]!, resolve(outdir, r.Metadata['aws:asset:path']));
    }
  }
  return out;
}

describe('the local runtime on the synthesized bundles', () => {
  let rt: LocalRuntime;
  beforeAll(async () => {
    rt = await startRuntime({ bundles: true });
  });
  afterAll(() => rt?.stop());

  it("runs each HTTP group, the ingest consumer and the stream's follow-ups from its function's bundle in cdk.out", async () => {
    const fns = synthesizedFunctions();
    const expected: Record<string, string> = {
      ...Object.fromEntries(ROUTE_GROUPS.map((g) => [`http/${g}`, `Http${g[0]!.toUpperCase()}${g.slice(1)}`])),
      'sqs/ingest': 'IngestConsumer',
      'stream/follow-ups': 'FollowUps',
    };
    for (const [module, construct] of Object.entries(expected)) {
      expect(fns.has(construct), `${construct} is in the synthesized stack`).toBe(true);
      expect(rt.handlers[module], module).toEqual({ from: 'bundle', function: construct, dir: fns.get(construct) });
    }
    expect(Object.keys(rt.handlers).sort()).toEqual(Object.keys(expected).sort());
    expect((await new Api(rt.url).get('/health')).body).toEqual({ ok: true });
  });

  it('maps every synthesized function to the handler module its bundle was built from', () => {
    const bundles = readBundles();
    const byConstruct = Object.fromEntries([...bundles.functions.values()].map((f) => [f.construct, f.module]));
    expect(byConstruct).toMatchObject({
      HttpAdmin: 'http/admin',
      HttpHealth: 'http/health',
      IngestConsumer: 'sqs/ingest',
      TimersConsumer: 'sqs/timers',
      Sweeper: 'scheduler/sweeper',
    });
    expect(bundles.functions.size).toBe(synthesizedFunctions().size);
  });
});

describe('without a fresh cdk.out', () => {
  const root = mkdtempSync(join(tmpdir(), 'engine-bundles-root-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('fails, saying to run `npm run synth`, when there is no cdk.out', () => {
    expect(() => readBundles({ root })).toThrow(BundlesUnavailableError);
    expect(() => readBundles({ root })).toThrow(/cdk\.out\/manifest\.json does not exist\. Run `npm run synth` first/);
  });

  it('fails, naming the changed file, when a source changed after the synth', () => {
    mkdirSync(join(root, 'cdk.out'), { recursive: true });
    mkdirSync(join(root, 'functions', 'handlers'), { recursive: true });
    writeFileSync(join(root, 'cdk.out', 'manifest.json'), JSON.stringify({ artifacts: {} }));
    writeFileSync(join(root, 'functions', 'handlers', 'x.handler.ts'), '');
    const synth = new Date('2026-01-01T00:00:00Z');
    utimesSync(join(root, 'cdk.out', 'manifest.json'), synth, synth);
    utimesSync(join(root, 'functions', 'handlers', 'x.handler.ts'), synth, synth);
    expect(readBundles({ root }).functions.size).toBe(0);

    const later = new Date('2026-01-01T00:00:05Z');
    utimesSync(join(root, 'functions', 'handlers', 'x.handler.ts'), later, later);
    expect(() => readBundles({ root })).toThrow(
      'cdk.out is stale: functions/handlers/x.handler.ts changed at 2026-01-01T00:00:05.000Z, after the synth at 2026-01-01T00:00:00.000Z. Run `npm run synth` again.',
    );
  });
});
