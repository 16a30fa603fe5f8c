import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../../functions/config.js';

describe('functions/config: the environment, read once per capability', () => {
  it('reads each capability into its typed config, with the defaults', () => {
    const config = readConfig(['observability', 'dynamodb', 'ingestQueue', 'sweeper'], {
      TABLE_NAME: 'engine',
      INGEST_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/ingest.fifo',
      AWS_REGION: 'eu-west-1',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    expect(config).toEqual({
      observability: {
        serviceName: 'contact-center-engine',
        metricsNamespace: 'ContactCenterEngine',
        metrics: false,
        tracing: true,
      },
      dynamodb: { region: 'eu-west-1', tableName: 'engine' },
      ingestQueue: { region: 'eu-west-1', url: 'https://sqs.eu-west-1.amazonaws.com/123456789012/ingest.fifo' },
      sweeper: { graceSeconds: 120 },
    });
  });

  it("finding 6 / RL-11: the local runtime's JWT check reads LOCAL_JWT_SECRET, _ISSUER and _AUDIENCE, with defaults", () => {
    expect(readConfig(['localJwt'], {})).toEqual({
      localJwt: {
        secret: 'local-dev-secret',
        issuer: 'urn:contact-center-engine:local',
        audience: 'contact-center-engine',
      },
    });
    expect(
      readConfig(['localJwt'], {
        LOCAL_JWT_SECRET: 's3cret',
        LOCAL_JWT_ISSUER: 'https://idp.example.com/',
        LOCAL_JWT_AUDIENCE: 'engine-api',
      }),
    ).toEqual({ localJwt: { secret: 's3cret', issuer: 'https://idp.example.com/', audience: 'engine-api' } });
  });

  it('reads only the capabilities asked for: another capability missing its variables is no error', () => {
    expect(readConfig(['observability'], {})).toEqual({
      observability: expect.objectContaining({ metrics: true, tracing: true }),
    });
    expect(readConfig(['dynamodb'], { TABLE_NAME: 't', DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000' })).toEqual({
      dynamodb: { region: 'us-east-1', tableName: 't', endpoint: 'http://127.0.0.1:8000' },
    });
  });

  it('fails naming every missing or malformed variable at once (an empty one counts as missing)', () => {
    const read = () =>
      readConfig(['dynamodb', 'scheduler', 'outboundQueue', 'sweeper'], {
        TABLE_NAME: '',
        SCHEDULE_GROUP_NAME: 'g',
        TIMERS_QUEUE_ARN: 'arn:aws:sqs:us-east-1:1:timers',
        SCHEDULER_ROLE_ARN: 'arn:aws:iam::1:role/r',
        OUTBOUND_QUEUE_URL: 'not a url',
        SWEEPER_GRACE_SECONDS: '1.5',
      });
    expect(read).toThrow(ConfigError);
    let error: ConfigError | undefined;
    try {
      read();
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.problems).toEqual([
      { variable: 'TABLE_NAME', message: 'is required' },
      { variable: 'SCHEDULER_DLQ_ARN', message: 'is required' },
      { variable: 'OUTBOUND_QUEUE_URL', message: 'must be a URL' },
      { variable: 'SWEEPER_GRACE_SECONDS', message: 'must be a whole number of seconds' },
    ]);
    expect(error?.message).toContain('environment variable TABLE_NAME is required');
  });

  it('refuses a flag that is neither true nor false', () => {
    expect(() => readConfig(['observability'], { POWERTOOLS_TRACE_ENABLED: 'maybe' })).toThrow(
      'environment variable POWERTOOLS_TRACE_ENABLED must be true or false',
    );
  });
});
