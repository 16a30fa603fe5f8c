import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { PLACEHOLDER_ISSUER, readConfig } from '../../lib/config.js';

/** Context -> deployment settings: what operators pass with -c, checked before anything is built. */
const config = (context: Record<string, unknown>) => readConfig(new App({ context }).node);

describe('deployment context', () => {
  it('defaults to a dev stage that keeps nothing and refuses every token', () => {
    expect(config({})).toMatchObject({
      stage: 'dev',
      retainData: false,
      jwtIssuer: PLACEHOLDER_ISSUER,
      jwtPlaceholder: true,
      apiThrottle: { rateLimit: 100, burstLimit: 200 },
    });
  });

  it('prod retains data by default and reads issuer and audiences (comma-separated)', () => {
    expect(config({ stage: 'prod', jwtIssuer: 'https://idp.example.com/', jwtAudience: 'a, b' })).toMatchObject({
      retainData: true,
      jwtIssuer: 'https://idp.example.com/',
      jwtAudience: ['a', 'b'],
      jwtPlaceholder: false,
    });
    expect(
      config({ stage: 'prod', retainData: 'false', jwtIssuer: 'https://idp.example.com/', jwtAudience: 'a' })
        .retainData,
    ).toBe(false);
  });

  it('refuses a stage other than dev/test without JWT settings, half of them, or a non-https issuer', () => {
    expect(() => config({ stage: 'prod' })).toThrow(/jwtIssuer/);
    expect(() => config({ stage: 'dev', jwtIssuer: 'https://idp.example.com/' })).toThrow(/both/);
    expect(() => config({ stage: 'prod', jwtIssuer: 'http://idp.example.com/', jwtAudience: 'a' })).toThrow(/https/);
  });

  it('refuses malformed values instead of deploying something else', () => {
    expect(() => config({ stage: 'Prod!' })).toThrow(/stage/);
    expect(() => config({ retainData: 'yes' })).toThrow(/retainData/);
    expect(() => config({ alarmEmail: 'nobody' })).toThrow(/alarmEmail/);
    expect(() => config({ apiThrottleRate: '-1' })).toThrow(/apiThrottleRate/);
  });
});
