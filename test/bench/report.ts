/** Plain-text tables for stdout. */

export type Cell = string | number | boolean | undefined;

const show = (c: Cell): string => {
  if (c === undefined) return '-';
  if (typeof c === 'boolean') return c ? 'yes' : 'no';
  if (typeof c === 'number') {
    if (!Number.isFinite(c)) return '-';
    if (Number.isInteger(c)) return c.toLocaleString('en-US');
    return Math.abs(c) >= 100 ? c.toFixed(0) : Math.abs(c) >= 10 ? c.toFixed(1) : c.toFixed(2);
  }
  return c;
};

/** Numbers are right-aligned, text left-aligned; `left` columns are always left-aligned. */
export function table(title: string, headers: string[], rows: Cell[][], left: number[] = []): string {
  const cells = [headers, ...rows.map((r) => r.map(show))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => {
        const w = widths[i] ?? 0;
        return i === 0 || left.includes(i) || Number.isNaN(Number(c.replace(/,/g, ''))) ? c.padEnd(w) : c.padStart(w);
      })
      .join(' | ');
  return [
    '',
    `== ${title} ==`,
    line(headers),
    widths.map((w) => '-'.repeat(w)).join('-|-'),
    ...cells.slice(1).map(line),
  ].join('\n');
}

export interface Goal {
  figure: string;
  value: string;
  goal: string;
  pass: boolean | undefined;
}

export const verdict = (pass: boolean | undefined): string =>
  pass === undefined ? 'not measured' : pass ? 'PASS' : 'FAIL';
