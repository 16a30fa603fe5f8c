import { Validations, type RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  HttpRoute,
  HttpRouteKey,
  HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { RouteSpec } from '../../functions/handlers/http/route-table.js';

/** A route of functions/handlers/http/route-table.ts; `group` names the function that serves it. */
export type ApiRoute = Pick<RouteSpec, 'method' | 'path' | 'auth' | 'group'>;

export interface EngineHttpApiProps {
  stage: string;
  routes: readonly ApiRoute[];
  functions: Record<string, IFunction>;
  jwtIssuer: string;
  jwtAudience: string[];
  throttle: { rateLimit: number; burstLimit: number };
  logRetention: RetentionDays;
  logRemovalPolicy: RemovalPolicy;
}

/**
 * The access log line: JSON, one per request, with the org claim and the concrete path (which holds
 * the conversation id), so a conversation's requests can be found in Logs Insights. `status` is a
 * number, so metric filters can count 409s.
 */
export const ACCESS_LOG_FORMAT = `{${[
  '"requestId":"$context.requestId"',
  '"requestTime":"$context.requestTime"',
  '"routeKey":"$context.routeKey"',
  '"path":"$context.path"',
  '"status":$context.status',
  '"org":"$context.authorizer.claims.org"',
  '"sub":"$context.authorizer.claims.sub"',
  '"sourceIp":"$context.identity.sourceIp"',
  '"userAgent":"$context.identity.userAgent"',
  '"responseLength":"$context.responseLength"',
  '"responseLatency":"$context.responseLatency"',
  '"integrationLatency":"$context.integrationLatency"',
  '"integrationError":"$context.integrationErrorMessage"',
  '"authorizerError":"$context.authorizer.error"',
].join(',')}}`;

/**
 * The HTTP API (API Gateway v2): one route per entry of the route table, each integrated with its
 * group's function (payload format 2.0, whose `routeKey` the handlers dispatch on). JWT routes use
 * the JWT authorizer; the public ones (health, signed webhooks) none. The $default stage has
 * access logs and throttling.
 */
export class EngineHttpApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;
  readonly authorizer: HttpJwtAuthorizer;

  constructor(scope: Construct, id: string, props: EngineHttpApiProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'Api', {
      apiName: `contact-center-engine-${props.stage}`,
      description: 'Contact-center conversation engine',
      createDefaultStage: false,
    });
    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(ACCESS_LOG_FORMAT),
      },
    });

    this.authorizer = new HttpJwtAuthorizer('JwtAuthorizer', props.jwtIssuer, {
      jwtAudience: props.jwtAudience,
      identitySource: ['$request.header.Authorization'],
    });

    const integrations = new Map<string, HttpLambdaIntegration>();
    const integrationFor = (group: string): HttpLambdaIntegration => {
      let i = integrations.get(group);
      if (!i) {
        const fn = props.functions[group];
        if (!fn) throw new Error(`no function for route group ${group}`);
        i = new HttpLambdaIntegration(`${group}Integration`, fn);
        integrations.set(group, i);
      }
      return i;
    };

    for (const r of props.routes) {
      const route = new HttpRoute(this, routeId(r), {
        httpApi: this.api,
        routeKey: HttpRouteKey.with(r.path, HttpMethod[r.method]),
        integration: integrationFor(r.group),
        ...(r.auth === 'jwt' ? { authorizer: this.authorizer } : {}),
      });
      if (r.auth === 'none') {
        Validations.of(route).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            r.group === 'webhooks'
              ? 'Channel webhooks cannot carry our JWTs: the handler authenticates each request by the HMAC-SHA256 X-Signature of the raw body with the channel secret, before reading or writing anything (401 otherwise).'
              : 'Liveness probe: answers {"ok":true} without touching any data, so load balancers and uptime checks need no credentials.',
        });
      }
    }
  }
}

/** A readable, unique construct id per route: `POST /v1/conversations/{id}/actions/{action}` -> `PostV1ConversationsIdActionsAction`. */
function routeId(r: ApiRoute): string {
  const words = [r.method.toLowerCase(), ...r.path.split(/[^A-Za-z0-9]+/)].filter(Boolean);
  return words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}
