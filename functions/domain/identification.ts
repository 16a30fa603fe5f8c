import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

/**
 * a phone number in E.164 (`+` and country code, no spaces), read with libphonenumber-js in
 * the org's default region when it has no country code. Unparseable or impossible numbers give
 * undefined: they identify nobody and never fail the event.
 */
export function toE164(raw: string | undefined, defaultRegion = 'US'): string | undefined {
  if (!raw) return undefined;
  try {
    const n = parsePhoneNumberFromString(raw, defaultRegion.toUpperCase() as CountryCode);
    return n?.isPossible() ? n.number : undefined;
  } catch {
    return undefined;
  }
}

export const normalizeEmail = (raw: string | undefined): string | undefined => {
  const e = raw?.trim().toLowerCase();
  return e && /^[^\s@]+@[^\s@]+$/.test(e) ? e : undefined;
};

/**
 * every identifying field given must match the same record. Returns that record's id when
 * exactly one record matches them all (contacts before accounts), otherwise nobody.
 */
export function pickIdentified(
  candidatesPerField: readonly (readonly { id: string; kind: 'contact' | 'account' }[])[],
): string | undefined {
  if (!candidatesPerField.length) return undefined;
  const [first, ...rest] = candidatesPerField;
  const all = (first ?? []).filter((c) => rest.every((list) => list.some((o) => o.id === c.id)));
  const contacts = all.filter((c) => c.kind === 'contact');
  const pool = contacts.length ? contacts : all;
  return pool.length === 1 ? pool[0]?.id : undefined;
}
