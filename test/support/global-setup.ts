import type {} from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { compileLauncher } from '../../bin/local/dynamodb-local.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** the DynamoDB Local launcher, compiled once for every test file's own DynamoDB Local */
    launcherClasses: string;
  }
}

/**
 * Compiles the DynamoDB Local launcher once. Every test file that uses the store then starts its own
 * DynamoDB Local (test/support/dynamo-per-file.ts). Store tests never skip: if Java cannot compile or
 * start it, the run fails with what Java printed.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'ddb-launcher-'));
  project.provide('launcherClasses', await compileLauncher(dir));
  return () => rm(dir, { recursive: true, force: true });
}
