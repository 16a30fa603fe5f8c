import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { RUNTIMES, startRuntime } from '../support/e2e.js';

/** The README's curl walk-through works as written: this runs the block itself, on the sources and on the bundles. */
describe.each(RUNTIMES)('README walk-through, on $on', ({ bundles }) => {
  let rt: LocalRuntime;
  beforeAll(async () => {
    rt = await startRuntime({ bundles });
  });
  afterAll(() => rt?.stop());

  it('T-1 / T-3a / T-7 / E-1 / MX-3 / MS-1 / MS-2: the curl walk-through prints the documented results', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Walk-through'));
    const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block, 'README has a ```sh block under "## Walk-through"').toBeTruthy();
    const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', block as string], {
      env: { ...process.env, API: rt.url },
      cwd: new URL('../..', import.meta.url).pathname,
      timeout: 60_000,
    });
    const lines = stdout.trim().split('\n');
    expect(lines.slice(-8)).toEqual([
      '1',
      'Active',
      '2',
      'customer: Hi, my order is late / agent: Sorry! Checking now.',
      'WrapUp',
      'Closed',
      'null -> Open, Open -> Active, Active -> WrapUp, WrapUp -> Closed',
      '0',
    ]);
  }, 90_000);
});
