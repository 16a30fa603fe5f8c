/**
 * H-1, H-2 operating hours: a weekly schedule of local open intervals in an IANA time zone, with dated
 * exceptions. Local times become instants through `Intl` (the tz database the runtime ships), never
 * through hand-kept offsets, so DST changes are whatever the zone says they are.
 */

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
/** `["09:00", "17:30"]`: local wall-clock times, start < end; the end may be `24:00` (midnight after) */
export type Interval = readonly [string, string];

export interface HoursException {
  /** a local calendar date, `YYYY-MM-DD` */
  date: string;
  /** this date's intervals instead of the weekly ones; `[]` = closed all day */
  intervals: Interval[];
}

export interface Hours {
  org: string;
  id: string;
  name?: string;
  timeZone: string;
  weekly: Partial<Record<Weekday, Interval[]>>;
  exceptions?: HoursException[];
}

export const MAX_EXCEPTIONS = 366;
export const MAX_INTERVALS_PER_DAY = 12;

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** `HH:MM` -> minutes after midnight (`24:00` -> 1440); undefined when it is no such time */
export function minutesOf(hhmm: string): number | undefined {
  const m = /^([01]\d|2[0-4]):([0-5]\d)$/.exec(hhmm);
  if (!m) return undefined;
  const minutes = Number(m[1]) * 60 + Number(m[2]);
  return minutes <= 1440 ? minutes : undefined;
}

/** `YYYY-MM-DD` of a real calendar day -> its UTC midnight in ms; undefined otherwise */
export function dayOf(date: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(ms).toISOString().slice(0, 10) === date ? ms : undefined;
}

const formats = new Map<string, Intl.DateTimeFormat>();
const formatOf = (timeZone: string): Intl.DateTimeFormat => {
  let f = formats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formats.set(timeZone, f);
  }
  return f;
};

/**
 * An IANA zone name the runtime knows (`Europe/Paris`, `UTC`, `Etc/GMT+5`). Bare offsets such as
 * `+01:00` are refused: they have no DST rules, which is what operating hours need a zone for.
 */
export function isTimeZone(name: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name) || name.length > 64) return false;
  try {
    formatOf(name);
    return true;
  } catch {
    return false;
  }
}

/** the wall clock of `ms` in the zone, as the UTC ms of the same wall-clock reading */
function wallOf(ms: number, timeZone: string): number {
  const p: Record<string, number> = {};
  for (const part of formatOf(timeZone).formatToParts(new Date(ms))) p[part.type] = Number(part.value);
  return Date.UTC(p.year ?? 0, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0, p.second ?? 0);
}

/** the zone's offset from UTC at `ms` (whole seconds) */
const offsetAt = (ms: number, timeZone: string): number => wallOf(ms, timeZone) - Math.floor(ms / 1000) * 1000;

const isoDate = (dayMs: number): string => new Date(dayMs).toISOString().slice(0, 10);

/** the intervals that apply on a local date (its exception, else its weekday's), in minutes */
function intervalsOn(hours: Hours, dayMs: number): [number, number][] {
  const date = isoDate(dayMs);
  const exception = hours.exceptions?.find((e) => e.date === date);
  const intervals = exception ? exception.intervals : (hours.weekly[WEEKDAYS[new Date(dayMs).getUTCDay()]!] ?? []);
  return intervals.map(([s, e]) => [minutesOf(s) ?? 0, minutesOf(e) ?? 0]);
}

/** H-1: is the schedule open at `at`? (a start is inside its interval, an end is not) */
export function isOpenAt(hours: Hours, at: Date): boolean {
  const wall = wallOf(at.getTime(), hours.timeZone);
  const day = Math.floor(wall / DAY_MS) * DAY_MS;
  const minute = (wall - day) / MINUTE_MS;
  return intervalsOn(hours, day).some(([s, e]) => s <= minute && minute < e);
}

/** the first instant in (lo, hi] whose offset is the one at hi (a DST change), to the second */
function changeBetween(lo: number, hi: number, timeZone: string): number {
  const after = offsetAt(hi, timeZone);
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2000) * 1000;
    if (offsetAt(mid, timeZone) === after) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * Every instant on a local day at which the schedule may flip: each interval bound and midnight, under
 * each offset the zone has around that day (a wall time that happens twice on a fall-back day gives
 * both), and the DST change itself (a wall time skipped by a spring-forward gap flips the state at the
 * jump). Only instants whose wall clock falls on that day are kept, so the days' candidates come in
 * the days' order. `dst`: the zone changes its offset around that day.
 */
function candidatesOn(hours: Hours, dayMs: number): { at: number[]; dst: boolean } {
  const tz = hours.timeZone;
  // a window wider than any local day (offsets lie within -12 h..+14 h)
  const lo = dayMs - 14 * 3_600_000;
  const hi = dayMs + DAY_MS + 12 * 3_600_000;
  const offsets = new Set([offsetAt(lo, tz), offsetAt(hi, tz)]);
  const out: number[] = [];
  if (offsets.size > 1) out.push(changeBetween(lo, hi, tz));
  const bounds = [0, ...intervalsOn(hours, dayMs).flat()];
  for (const minute of bounds) for (const o of offsets) out.push(dayMs + minute * MINUTE_MS - o);
  const onDay = out.filter((c) => Math.floor(wallOf(c, tz) / DAY_MS) * DAY_MS === dayMs);
  return { at: onDay, dst: offsets.size > 1 };
}

/** a walk never goes this many days past today and the last exception */
const HORIZON_DAYS = 400;

/**
 * H-2: the next instant after `now` at which `isOpenAt` changes, or null when it never does. Days are
 * walked one by one from yesterday; after 9 plain days in a row (no exception, no DST change) without
 * a change, the weekly schedule alone never changes the state, so the walk jumps to the next exception
 * date, or stops.
 */
export function nextChangeAt(hours: Hours, now: Date): Date | null {
  const t = now.getTime();
  const open = isOpenAt(hours, now);
  const exceptionDays = (hours.exceptions ?? [])
    .map((e) => dayOf(e.date))
    .filter((d): d is number => d !== undefined)
    .sort((a, b) => a - b);
  const isException = new Set(exceptionDays);
  let day = Math.floor(wallOf(t, hours.timeZone) / DAY_MS) * DAY_MS - DAY_MS;
  const horizon = Math.max(day, exceptionDays.at(-1) ?? day) + HORIZON_DAYS * DAY_MS;
  let plain = 0;
  while (day <= horizon) {
    const { at, dst } = candidatesOn(hours, day);
    const flip = at
      .filter((c) => c > t)
      .sort((a, b) => a - b)
      .find((c) => isOpenAt(hours, new Date(c)) !== open);
    if (flip !== undefined) return new Date(flip);
    plain = isException.has(day) || dst ? 0 : plain + 1;
    if (plain < 9) {
      day += DAY_MS;
      continue;
    }
    const next = exceptionDays.find((d) => d > day);
    if (next === undefined) return null;
    day = next - DAY_MS;
    plain = 0;
  }
  return null;
}

/** RL-4: what is wrong with a schedule, by field (empty: nothing) */
export function hoursErrors(input: Pick<Hours, 'weekly' | 'exceptions'>): { field: string; message: string }[] {
  const errors: { field: string; message: string }[] = [];
  const checkDay = (field: string, intervals: readonly Interval[]): void => {
    const spans = intervals.map(([s, e], i) => {
      const start = minutesOf(s);
      const end = minutesOf(e);
      if (start === undefined || start >= 1440)
        errors.push({ field: `${field}.${i}.0`, message: 'must be a local time HH:MM from 00:00 to 23:59' });
      if (end === undefined)
        errors.push({ field: `${field}.${i}.1`, message: 'must be a local time HH:MM from 00:01 to 24:00' });
      if (start !== undefined && end !== undefined && start >= end)
        errors.push({ field: `${field}.${i}`, message: `start ${s} must be before end ${e}` });
      return [start ?? 0, end ?? 0] as const;
    });
    const sorted = [...spans].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++)
      if (sorted[i]![0] < sorted[i - 1]![1]) {
        errors.push({ field, message: 'intervals of one day must not overlap' });
        break;
      }
  };
  for (const [day, intervals] of Object.entries(input.weekly)) checkDay(`weekly.${day}`, intervals ?? []);
  const seen = new Set<string>();
  (input.exceptions ?? []).forEach((e, i) => {
    if (dayOf(e.date) === undefined)
      errors.push({ field: `exceptions.${i}.date`, message: 'must be a calendar date YYYY-MM-DD' });
    else if (seen.has(e.date))
      errors.push({ field: `exceptions.${i}.date`, message: `${e.date} is listed more than once` });
    seen.add(e.date);
    checkDay(`exceptions.${i}.intervals`, e.intervals);
  });
  return errors;
}
