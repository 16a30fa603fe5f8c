import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The project's root: bin/local/ is two levels down. */
export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What the synth reads besides functions/ and lib/: a change to any of them makes cdk.out stale. */
const SYNTH_INPUTS = ['functions', 'lib', 'bin/app.ts', 'cdk.json', 'package-lock.json', 'tsconfig.json'];

/** cdk.out cannot be used: missing, stale, or without a function the runtime needs. */
export class BundlesUnavailableError extends Error {
  override readonly name = 'BundlesUnavailableError';
}

/** One synthesized Lambda function and its bundle. */
export interface BundledFunction {
  /** the construct id in its stack (HttpAdmin, IngestConsumer), from `aws:cdk:path` */
  construct: string;
  /** the stack and logical id of its AWS::Lambda::Function */
  stack: string;
  logicalId: string;
  /** its asset folder, holding index.mjs */
  dir: string;
  /** the handler module its bundle was built from: `http/admin` for functions/handlers/http/admin.handler.ts */
  module: string;
}

export interface SynthesizedBundles {
  outdir: string;
  /** when the synth wrote the cloud assembly (manifest.json) */
  synthesizedAt: Date;
  /** by handler module (`http/admin`, `sqs/ingest`, `stream/follow-ups`) */
  functions: ReadonlyMap<string, BundledFunction>;
}

interface Template {
  Resources?: Record<string, { Type?: string; Metadata?: Record<string, unknown> }>;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** The cloud assembly's folder: cdk.json's `output`, cdk.out by default. */
export function defaultOutdir(root = PROJECT_ROOT): string {
  const cdkJson = join(root, 'cdk.json');
  const output = existsSync(cdkJson) ? readJson<{ output?: string }>(cdkJson).output : undefined;
  return resolve(root, output ?? 'cdk.out');
}

/** The newest file under `path` (a file or a folder), or undefined if there is none. */
function newest(path: string): { path: string; mtime: Date } | undefined {
  if (!existsSync(path)) return undefined;
  const st = statSync(path);
  if (!st.isDirectory()) return { path, mtime: st.mtime };
  let best: { path: string; mtime: Date } | undefined;
  for (const entry of readdirSync(path)) {
    const n = newest(join(path, entry));
    if (n && (!best || n.mtime > best.mtime)) best = n;
  }
  return best;
}

/**
 * The handler module a bundle was built from. esbuild's ESM output evaluates the entry last, so its
 * source map lists the entry's file last: functions/handlers/<module>.handler.ts. Read from the
 * bundle itself, not from construct ids or descriptions, so nothing here repeats the stack's names.
 */
function entryModule(dir: string, root: string): string | undefined {
  const mapFile = join(dir, 'index.mjs.map');
  if (!existsSync(join(dir, 'index.mjs')) || !existsSync(mapFile)) return undefined;
  const last = readJson<{ sources?: string[] }>(mapFile).sources?.at(-1);
  if (!last) return undefined;
  const file = relative(join(root, 'functions', 'handlers'), resolve(dir, last))
    .split(sep)
    .join('/');
  return /^(?!\.\.\/)(.+)\.handler\.ts$/.exec(file)?.[1];
}

/**
 * The Lambda bundles of the last `npm run synth`, by the handler module each was built from: every
 * stack's AWS::Lambda::Function with an `aws:asset:path` (its asset folder). Fails with what to do
 * when cdk.out is missing, or older than any input of the synth (functions/, lib/, bin/app.ts,
 * cdk.json, package-lock.json, tsconfig.json): it never synthesizes itself (that takes half a
 * minute and runs the cdk-nag checks, whose findings belong in `npm run synth`'s own output).
 */
export function readBundles(options: { outdir?: string; root?: string } = {}): SynthesizedBundles {
  const root = options.root ?? PROJECT_ROOT;
  const outdir = options.outdir ?? defaultOutdir(root);
  const shown = relative(root, outdir) || outdir;
  const manifestFile = join(outdir, 'manifest.json');
  if (!existsSync(manifestFile)) {
    throw new BundlesUnavailableError(
      `no synthesized bundles: ${shown}/manifest.json does not exist. Run \`npm run synth\` first (--bundles runs the bundles cdk.out holds; it does not synthesize them).`,
    );
  }
  const synthesizedAt = statSync(manifestFile).mtime;
  const changed = SYNTH_INPUTS.map((p) => newest(join(root, p)))
    .filter((n): n is NonNullable<typeof n> => n !== undefined && n.mtime > synthesizedAt)
    .sort((a, b) => b.mtime.getTime() - a.mtime.getTime())[0];
  if (changed) {
    throw new BundlesUnavailableError(
      `${shown} is stale: ${relative(root, changed.path)} changed at ${changed.mtime.toISOString()}, after the synth at ${synthesizedAt.toISOString()}. Run \`npm run synth\` again.`,
    );
  }

  const manifest = readJson<{ artifacts?: Record<string, { type?: string; properties?: { templateFile?: string } }> }>(
    manifestFile,
  );
  const functions = new Map<string, BundledFunction>();
  for (const [stack, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type !== 'aws:cloudformation:stack' || !artifact.properties?.templateFile) continue;
    const template = readJson<Template>(join(outdir, artifact.properties.templateFile));
    for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
      const assetPath = resource.Metadata?.['aws:asset:path'];
      if (resource.Type !== 'AWS::Lambda::Function' || typeof assetPath !== 'string') continue;
      const dir = resolve(outdir, assetPath);
      const module = entryModule(dir, root);
      if (!module) continue; // not one of the engine's handlers (a CDK-provided function)
      const cdkPath = resource.Metadata?.['aws:cdk:path'];
      const construct = typeof cdkPath === 'string' ? (cdkPath.split('/')[1] ?? logicalId) : logicalId;
      if (!functions.has(module)) functions.set(module, { construct, stack, logicalId, dir, module });
    }
  }
  return { outdir, synthesizedAt, functions };
}

/**
 * Loads a bundle as the Lambda runtime does (`import()` of its index.mjs, in this process) and
 * returns its `createHandler` export.
 */
export async function importCreateHandler(fn: BundledFunction): Promise<(...args: never[]) => unknown> {
  const mod = (await import(pathToFileURL(join(fn.dir, 'index.mjs')).href)) as { createHandler?: unknown };
  if (typeof mod.createHandler !== 'function') {
    throw new BundlesUnavailableError(
      `the bundle of ${fn.construct} (${fn.module}, ${fn.dir}) exports no createHandler. Run \`npm run synth\` again.`,
    );
  }
  return mod.createHandler as (...args: never[]) => unknown;
}
