import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { handlerEntry, PROJECT_ROOT } from '../../lib/constructs/engine-function.js';
import {
  BUDGET_RATIO,
  DEPENDENCIES,
  esbuildOptions,
  floorSource,
  FUNCTION_DEPENDENCIES,
  type Dependency,
} from '../infra/bundle-floor.js';

export interface BundleFigures {
  function: string;
  handler: string;
  bytes: number;
  /** the bundle of only the SDK clients and Powertools utilities it uses (undefined: none) */
  floorBytes?: number;
  ratio?: number;
  budgetRatio: number;
  initMs: number;
  floorInitMs?: number;
  /** dependencies bundle-floor.ts declares that the bundle does not contain (left out of its floor) */
  notInBundle?: string[];
}

/** The stack's functions (construct id -> handler module), and the stream consumer the stack does not deploy yet. */
const HANDLERS: Record<string, string> = {
  HttpHealth: 'http/health',
  HttpAdmin: 'http/admin',
  HttpConversations: 'http/conversations',
  HttpAgents: 'http/agents',
  HttpQueues: 'http/queues',
  HttpWebhooks: 'http/webhooks',
  IngestConsumer: 'sqs/ingest',
  TimersConsumer: 'sqs/timers',
  Sweeper: 'scheduler/sweeper',
  FollowUps: 'stream/follow-ups',
};
/** the follow-ups consumer is not in bundle-floor.ts's list: the engine's dependencies (no batch utility) */
const EXTRA_DEPENDENCIES: Record<string, readonly Dependency[]> = {
  FollowUps: ['dynamodb', 'scheduler', 'sqs', 'logger', 'metrics', 'tracer'],
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function timeNode(args: string[]): number {
  const t0 = performance.now();
  execFileSync(process.execPath, args, { stdio: 'ignore', env: { ...process.env, AWS_REGION: 'us-east-1' } });
  return performance.now() - t0;
}

/** ms to import `file` in a fresh node, less a bare node's start (median of 5 each) */
function initMs(file: string, baseline: number): number {
  const runs = Array.from({ length: 5 }, () =>
    timeNode(['--input-type=module', '-e', `await import(${JSON.stringify(file)})`]),
  );
  return Math.round(median(runs) - baseline);
}

/**
 * (d) Each function bundled with the stack's esbuild options (test/infra/bundle-floor.ts mirrors
 * lib/constructs/engine-function.ts's BUNDLING), its size beside its floor (a bundle of only the
 * SDK clients and Powertools utilities it uses, same options), and the time a fresh node takes to
 * import each (the cold start's module load: the handlers build their clients on first invocation).
 */
export async function bundles(log: (s: string) => void): Promise<BundleFigures[]> {
  const outDir = mkdtempSync(join(tmpdir(), 'bench-bundles-'));
  try {
    const baseline = median(Array.from({ length: 5 }, () => timeNode(['-e', '0'])));
    const out: BundleFigures[] = [];
    for (const [fn, handler] of Object.entries(HANDLERS)) {
      const declared: readonly Dependency[] =
        (FUNCTION_DEPENDENCIES as Record<string, readonly Dependency[]>)[fn] ?? EXTRA_DEPENDENCIES[fn] ?? [];
      const file = join(outDir, fn, 'index.mjs');
      const result = await build({
        ...esbuildOptions(),
        entryPoints: [handlerEntry(handler)],
        outfile: file,
        metafile: true,
      });
      // a declared dependency none of whose packages is in the bundle is not part of its floor
      const inputs = Object.keys(result.metafile.inputs);
      const contains = (d: Dependency) =>
        Object.keys(DEPENDENCIES[d]).some((m) =>
          inputs.some((i) => i.includes(`node_modules/${m.split('/').slice(0, 2).join('/')}/`)),
        );
      const deps = declared.filter(contains);
      const notInBundle = declared.filter((d) => !contains(d));
      const bytes = statSync(file).size;
      const figures: BundleFigures = {
        function: fn,
        handler,
        bytes,
        budgetRatio: BUDGET_RATIO,
        initMs: initMs(file, baseline),
        ...(notInBundle.length ? { notInBundle } : {}),
      };
      if (deps.length) {
        const floorFile = join(outDir, `${fn}-floor`, 'index.mjs');
        await build({
          ...esbuildOptions(),
          stdin: { contents: floorSource(deps), resolveDir: PROJECT_ROOT, loader: 'js' },
          outfile: floorFile,
        });
        figures.floorBytes = statSync(floorFile).size;
        figures.ratio = bytes / figures.floorBytes;
        figures.floorInitMs = initMs(floorFile, baseline);
      }
      out.push(figures);
      log(
        `  ${fn}: ${(bytes / 1024).toFixed(0)} KiB${figures.floorBytes ? ` (floor ${(figures.floorBytes / 1024).toFixed(0)} KiB)` : ''}, init ${figures.initMs} ms`,
      );
    }
    return out;
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}
