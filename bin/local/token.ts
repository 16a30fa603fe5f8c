import { SignJWT } from 'jose';
import { readConfig, type LocalJwtConfig } from '../../functions/config.js';

/**
 * An HS256 token the local server accepts: the claims API Gateway's JWT authorizer would pass on,
 * with `iat`, `exp`, and the `iss` and `aud` the local server checks (RL-11). Secret, issuer and
 * audience: LOCAL_JWT_SECRET, LOCAL_JWT_ISSUER, LOCAL_JWT_AUDIENCE (as the local server reads
 * them), unless given.
 */
export async function signLocalToken(
  claims: { org: string; sub: string; roles: string[] },
  options: Partial<LocalJwtConfig> & { expiresIn?: string } = {},
): Promise<string> {
  const { expiresIn, ...given } = options;
  const jwt = { ...readConfig(['localJwt']).localJwt, ...given };
  return new SignJWT({ org: claims.org, roles: claims.roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setIssuer(jwt.issuer)
    .setAudience(jwt.audience)
    .setExpirationTime(expiresIn ?? '12h')
    .sign(new TextEncoder().encode(jwt.secret));
}
