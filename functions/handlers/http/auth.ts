import * as z from 'zod/mini';
import { ForbiddenActionError } from '../../domain/errors.js';
import type { Caller } from '../../use-cases/caller.js';
import '../zod-messages.js';
import { UnauthorizedError } from './problem.js';

export const ROLES = ['agent', 'supervisor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Claims {
  sub: string;
  org: string;
  roles: Role[];
}

export const idSchema = z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must match [A-Za-z0-9_-]{1,64}'));

const isRole = (r: string): r is Role => (ROLES as readonly string[]).includes(r);

/**
 * RL-12: one role name: no whitespace, comma or bracket (nor control character), so that no element
 * can turn into several roles when a list is written as a string ("read admin" never becomes admin).
 */
const ROLE_ELEMENT = /^[^\s,[\]\p{Cc}]{1,64}$/u;

export type RolesClaim = { ok: true; roles: Role[]; unknown: string[] } | { ok: false; reason: string };

/**
 * RL-12: the roles claim in its two accepted forms: a JSON array of strings (the token's own form,
 * which the local server hands over) or the string API Gateway's JWT authorizer makes of an array
 * claim, its elements between brackets, separated by single spaces ("[agent supervisor]"). Anything
 * else, and any element that is not one role name, is refused; unknown role names are returned apart
 * (the caller drops and logs them).
 */
export function parseRolesClaim(claim: unknown): RolesClaim {
  let elements: readonly unknown[];
  if (Array.isArray(claim)) elements = claim;
  else if (typeof claim === 'string' && claim.startsWith('[') && claim.endsWith(']'))
    elements = claim.length === 2 ? [] : claim.slice(1, -1).split(' ');
  else return { ok: false, reason: 'the roles claim must be a JSON array of strings (or "[a b]" from API Gateway)' };
  const bad = elements.findIndex((e) => typeof e !== 'string' || !ROLE_ELEMENT.test(e));
  if (bad >= 0)
    return {
      ok: false,
      reason: `roles element ${bad} is not a role name (1 to 64 characters, no space, comma or bracket)`,
    };
  const names = elements as readonly string[];
  return { ok: true, roles: names.filter(isRole), unknown: names.filter((r) => !isRole(r)) };
}

const claimsSchema = z.object({ sub: idSchema, org: idSchema });

/**
 * Reads the claims the authorizer verified. No verified claims, or a roles claim that is not a list
 * of role names (RL-12) -> 401. Unknown roles are dropped, and handed to `onUnknownRoles` to log.
 */
export function claimsFrom(
  raw: unknown,
  onUnknownRoles?: (dropped: { sub: string; org: string; roles: string[] }) => void,
): Claims {
  const parsed = claimsSchema.safeParse(raw);
  if (!parsed.success) throw new UnauthorizedError('a valid bearer token with sub, org and roles claims is required');
  const { sub, org } = parsed.data;
  const roles = parseRolesClaim((raw as { roles?: unknown }).roles);
  if (!roles.ok) throw new UnauthorizedError(`RL-12: ${roles.reason}`);
  if (roles.unknown.length) onUnknownRoles?.({ sub, org, roles: roles.unknown });
  return { sub, org, roles: roles.roles };
}

/** The claims as the use cases name whoever calls: org, id (the token's subject), roles. */
export const callerOf = (claims: Claims): Caller => ({ org: claims.org, id: claims.sub, roles: claims.roles });

export function requireRole(claims: Claims, ...anyOf: readonly Role[]): void {
  if (!anyOf.some((r) => claims.roles.includes(r))) {
    throw new ForbiddenActionError(`this route needs the role ${anyOf.join(' or ')}`);
  }
}
