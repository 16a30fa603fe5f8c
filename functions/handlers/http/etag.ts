import { ValidationError } from '../../domain/errors.js';

/**
 * RL-8: entity tags of a conversation. The tag is its version, strong: `"7"`. Hand-written on
 * purpose: the grammar (RFC 9110, section 8.8.3 and 13.1) is a few lines, and no library would cut it.
 */
export const etagOf = (version: number): string => `"${version}"`;

const TAG = /^(W\/)?"([\x21\x23-\x7e]*)"$/;
const MAX_HEADER = 1024;

interface Tag {
  weak: boolean;
  opaque: string;
}

/** `*` or a comma-separated list of entity tags; anything else is 400 (RL-4). */
function parseTags(header: string, name: string): '*' | Tag[] {
  const value = header.trim();
  const bad = (message: string) =>
    new ValidationError(`the ${name} header is not valid`, [{ field: `header.${name}`, message }]);
  if (value.length > MAX_HEADER) throw bad(`at most ${MAX_HEADER} characters`);
  if (value === '*') return '*';
  const tags = value.split(',').map((part) => TAG.exec(part.trim()));
  if (!tags.length || tags.some((m) => !m)) throw bad('must be * or a list of entity tags such as "3"');
  return tags.map((m) => ({ weak: !!m?.[1], opaque: m?.[2] ?? '' }));
}

/**
 * The versions an `If-Match` header accepts, or undefined when it accepts any (`*`: the conversation
 * only has to exist, which its read proves). Strong comparison: a weak tag, or one that is not a
 * version, matches nothing, so an action naming only such tags is refused with 412.
 */
export function ifMatchVersions(header: string | undefined): number[] | undefined {
  if (header === undefined) return undefined;
  const tags = parseTags(header, 'If-Match');
  if (tags === '*') return undefined;
  return tags.filter((t) => !t.weak && /^\d{1,15}$/.test(t.opaque)).map((t) => Number(t.opaque));
}

/** `If-None-Match` on a read (weak comparison): true when the client already has this version. */
export function notModified(header: string | undefined, version: number): boolean {
  if (header === undefined) return false;
  const tags = parseTags(header, 'If-None-Match');
  return tags === '*' || tags.some((t) => t.opaque === String(version));
}
