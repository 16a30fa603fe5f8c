import { parseArgs } from 'node:util';
import { signLocalToken } from './local/token.js';

/**
 * `npm run token -- --org acme --sub alice --roles agent,supervisor` prints a local bearer token,
 * signed with LOCAL_JWT_SECRET and carrying the issuer and audience the local server checks
 * (LOCAL_JWT_ISSUER, LOCAL_JWT_AUDIENCE; defaults in functions/config.ts).
 */
const { values } = parseArgs({
  options: {
    org: { type: 'string' },
    sub: { type: 'string' },
    roles: { type: 'string', default: 'agent' },
    expires: { type: 'string', default: '12h' },
  },
});
if (!values.org || !values.sub) {
  console.error('usage: npm run token -- --org <org> --sub <user id> [--roles agent,supervisor,admin] [--expires 12h]');
  process.exit(2);
}
const roles = (values.roles ?? 'agent')
  .split(',')
  .map((r) => r.trim())
  .filter(Boolean);
console.log(await signLocalToken({ org: values.org, sub: values.sub, roles }, { expiresIn: values.expires ?? '12h' }));
