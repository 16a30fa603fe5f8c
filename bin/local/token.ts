import { SignJWT } from 'jose';
import { DEFAULT_LOCAL_JWT_SECRET } from './http-server.js';

/** An HS256 token the local server accepts: the claims API Gateway's JWT authorizer would pass on. */
export async function signLocalToken(
  claims: { org: string; sub: string; roles: string[] },
  options: { secret?: string; expiresIn?: string } = {},
): Promise<string> {
  const secret = new TextEncoder().encode(options.secret ?? process.env.LOCAL_JWT_SECRET ?? DEFAULT_LOCAL_JWT_SECRET);
  return new SignJWT({ org: claims.org, roles: claims.roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setIssuer('local')
    .setExpirationTime(options.expiresIn ?? '12h')
    .sign(secret);
}
