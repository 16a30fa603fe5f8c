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

/**
 * API Gateway's JWT authorizer hands array claims over as strings such as "[agent supervisor]";
 * the local server hands real arrays. Both mean the same roles.
 */
const rolesClaim = z.pipe(
  z.transform((v: unknown) => {
    if (Array.isArray(v)) return v as unknown[];
    if (typeof v === 'string')
      return v
        .replace(/^\[|\]$/g, '')
        .split(/[\s,]+/)
        .filter(Boolean);
    return v;
  }),
  z.array(z.string()),
);

const claimsSchema = z.object({ sub: idSchema, org: idSchema, roles: rolesClaim });

/** Reads the claims the authorizer verified. No verified claims -> 401. Unknown roles are ignored. */
export function claimsFrom(raw: unknown): Claims {
  const parsed = claimsSchema.safeParse(raw);
  if (!parsed.success) throw new UnauthorizedError('a valid bearer token with sub, org and roles claims is required');
  const { sub, org, roles } = parsed.data;
  return { sub, org, roles: roles.filter((r): r is Role => (ROLES as readonly string[]).includes(r)) };
}

/** The claims as the use cases name whoever calls: org, id (the token's subject), roles. */
export const callerOf = (claims: Claims): Caller => ({ org: claims.org, id: claims.sub, roles: claims.roles });

export function requireRole(claims: Claims, ...anyOf: readonly Role[]): void {
  if (!anyOf.some((r) => claims.roles.includes(r))) {
    throw new ForbiddenActionError(`this route needs the role ${anyOf.join(' or ')}`);
  }
}
