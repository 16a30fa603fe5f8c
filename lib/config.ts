import { Duration } from 'aws-cdk-lib';
import type { Node } from 'constructs';

/**
 * Deployment settings, read once from CDK context (`-c key=value` or cdk.json). Nothing here is
 * looked up in an AWS account: synth works offline, without credentials.
 */
export interface EngineConfig {
  /** dev, staging, prod...: part of every stack name, so stages can share an account */
  stage: string;
  /** keep the tables and logs on stack deletion, and refuse accidental deletes (default: stage prod) */
  retainData: boolean;
  /** JWT authorizer: the token issuer (`iss`), an https URL whose /.well-known/openid-configuration API Gateway reads */
  jwtIssuer: string;
  /** JWT authorizer: accepted `aud` (or `client_id`) values */
  jwtAudience: string[];
  /** true when issuer and audience were not given and a placeholder that refuses every token is used */
  jwtPlaceholder: boolean;
  /** alarm notifications go to this address (an SNS email subscription to confirm) */
  alarmEmail?: string;
  /** API Gateway stage throttling: steady requests per second and burst */
  apiThrottle: { rateLimit: number; burstLimit: number };
}

/** Stages that may run with the placeholder issuer (fail closed: every JWT route answers 401). */
const PLACEHOLDER_STAGES = new Set(['dev', 'test']);
export const PLACEHOLDER_ISSUER = 'https://issuer.invalid/';
export const PLACEHOLDER_AUDIENCE = 'unconfigured';

export function readConfig(node: Node): EngineConfig {
  const ctx = (key: string): string | undefined => {
    const v: unknown = node.tryGetContext(key);
    if (v === undefined || v === null || v === '') return undefined;
    return Array.isArray(v) ? v.join(',') : String(v);
  };
  const stage = ctx('stage') ?? 'dev';
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(stage))
    throw new Error(`context stage "${stage}" must match [a-z][a-z0-9-]{0,19}`);

  const retain = ctx('retainData');
  if (retain !== undefined && retain !== 'true' && retain !== 'false')
    throw new Error(`context retainData must be true or false, not "${retain}"`);
  const retainData = retain === undefined ? stage === 'prod' : retain === 'true';

  const issuer = ctx('jwtIssuer');
  const audience = ctx('jwtAudience')
    ?.split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  const jwtPlaceholder = issuer === undefined && (audience === undefined || audience.length === 0);
  if (jwtPlaceholder && !PLACEHOLDER_STAGES.has(stage)) {
    throw new Error(
      `stage ${stage} needs the JWT authorizer settings: -c jwtIssuer=https://... -c jwtAudience=<client id>[,<client id>]`,
    );
  }
  if (!jwtPlaceholder && (issuer === undefined || !audience?.length))
    throw new Error('give both jwtIssuer and jwtAudience, or neither (dev only)');
  if (issuer !== undefined && !/^https:\/\/[^\s]+$/.test(issuer))
    throw new Error(`context jwtIssuer must be an https URL, not "${issuer}"`);

  const alarmEmail = ctx('alarmEmail');
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail))
    throw new Error(`context alarmEmail "${alarmEmail}" is not an email address`);

  const num = (key: string, fallback: number): number => {
    const v = ctx(key);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`context ${key} must be a positive integer, not "${v}"`);
    return n;
  };

  return {
    stage,
    retainData,
    jwtIssuer: issuer ?? PLACEHOLDER_ISSUER,
    jwtAudience: audience?.length ? audience : [PLACEHOLDER_AUDIENCE],
    jwtPlaceholder,
    ...(alarmEmail ? { alarmEmail } : {}),
    apiThrottle: { rateLimit: num('apiThrottleRate', 100), burstLimit: num('apiThrottleBurst', 200) },
  };
}

/**
 * Queue consumers' timeout, shared by both stacks: a queue's visibility timeout must outlast its
 * consumer's run (AWS advises six times the function timeout, so retries of a throttled batch
 * do not return messages to the queue while they are still being processed).
 */
export const CONSUMER_TIMEOUT = Duration.seconds(30);
export const CONSUMER_VISIBILITY_TIMEOUT = Duration.seconds(CONSUMER_TIMEOUT.toSeconds() * 6);
/** receives before a message goes to its DLQ */
export const MAX_RECEIVE_COUNT = 5;

export const SERVICE_NAME = 'contact-center-engine';
