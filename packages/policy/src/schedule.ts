// Time windows: is `now` inside one of a policy's windows, in the window's IANA time zone? Uses
// Intl (no tz database of our own); one cached formatter per zone, because building an
// Intl.DateTimeFormat costs far more than using one.
import type { TimeWindow } from '@skillgate/api';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Day of week and minute of day of `now` in `timeZone`. Throws RangeError for an unknown zone. */
export function localTime(now: Date, timeZone: string): { day: string; minute: number } {
  let day = '';
  let hour = 0;
  let minute = 0;
  for (const part of formatter(timeZone).formatToParts(now)) {
    if (part.type === 'weekday') day = part.value;
    else if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return { day, minute: (hour % 24) * 60 + minute };
}

/** "HH:MM" → minute of day, or undefined when malformed. "24:00" is allowed as an end. */
export function parseClock(s: string): number | undefined {
  const m = /^(\d{2}):(\d{2})$/.exec(s);
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (min > 59 || h > 24 || (h === 24 && min !== 0)) return undefined;
  return h * 60 + min;
}

export interface CompiledWindow {
  days?: ReadonlySet<string>;
  start: number;
  end: number;
  timeZone: string;
  text: string;
}

export function compileWindow(w: TimeWindow): CompiledWindow {
  const start = parseClock(w.start);
  const end = parseClock(w.end);
  if (start === undefined || end === undefined) throw new Error(`time window ${w.start}-${w.end}: times must be "HH:MM" (24h)`);
  const timeZone = w.timeZone ?? 'UTC';
  formatter(timeZone); // throws RangeError on an unknown zone: caught by validation
  for (const d of w.days ?? []) if (!(DAYS as readonly string[]).includes(d)) throw new Error(`time window: unknown day ${d}`);
  return {
    ...(w.days?.length ? { days: new Set(w.days) } : {}),
    start, end, timeZone,
    text: `${w.days?.length ? `${w.days.join(',')} ` : ''}${w.start}-${w.end} ${timeZone}`,
  };
}

/**
 * Inside when the local time is in [start, end). A window whose end is before its start runs past
 * midnight (22:00-06:00); its days name the day it starts on, so Fri 22:00-06:00 covers Sat 03:00.
 */
export function insideWindow(w: CompiledWindow, now: Date): boolean {
  const { day, minute } = localTime(now, w.timeZone);
  if (w.start <= w.end) return (!w.days || w.days.has(day)) && minute >= w.start && minute < w.end;
  if (minute >= w.start) return !w.days || w.days.has(day);
  if (minute < w.end) return !w.days || w.days.has(DAYS[(DAYS.indexOf(day as typeof DAYS[number]) + 6) % 7]!);
  return false;
}
