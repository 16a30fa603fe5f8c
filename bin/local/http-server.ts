import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { errors, jwtVerify, type JWTPayload } from 'jose';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { LOCAL_JWT_DEFAULTS } from '../../functions/config.js';
import { parseRolesClaim } from '../../functions/handlers/http/auth.js';
import { problem, type Problem } from '../../functions/handlers/http/problem.js';
import type { Route } from '../../functions/handlers/http/http-handler.js';

export type LambdaHttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface LocalRoute {
  route: Pick<Route, 'method' | 'path' | 'auth'>;
  handler: LambdaHttpHandler;
}

/** Extra routes the local server answers itself (e.g. POST /_local/clock). */
export type LocalEndpoint = (body: unknown) => Promise<unknown>;

const MAX_BODY = 256 * 1024;

export const DEFAULT_LOCAL_JWT_SECRET = LOCAL_JWT_DEFAULTS.secret;

/**
 * RL-11: the largest Authorization header answered (431 above). API Gateway's HTTP API takes at most
 * 10,240 bytes of request line and headers together, so a larger token never reaches AWS's handlers.
 */
export const MAX_AUTHORIZATION_BYTES = 10 * 1024;

/** RL-11: how far in the future a token's `iat` and `nbf` may be (the issuer's clock may run ahead). */
export const JWT_CLOCK_SKEW_SECONDS = 60;

export function lambdaContext(functionName: string): Context {
  const deadline = Date.now() + 30_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const compile = (path: string): { regex: RegExp; names: string[] } => {
  const names: string[] = [];
  const pattern = path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, n: string) => {
    names.push(n);
    return '([^/]+)';
  });
  return { regex: new RegExp(`^${pattern}$`), names };
};

const unauthorized = (detail: string): Problem => problem(401, detail, { type: 'unauthorized' });

/**
 * RL-11: the Authorization header as API Gateway would let it through: at most one (400 otherwise;
 * node:http would keep the first and drop the others silently), of at most 10 KiB (431).
 */
function authorizationHeader(req: IncomingMessage): { value?: string } | { problem: Problem } {
  const values = req.rawHeaders.filter((_, i, all) => i % 2 === 1 && all[i - 1]?.toLowerCase() === 'authorization');
  if (values.length > 1)
    return {
      problem: problem(400, 'RL-11: the request has several Authorization headers; send one', {
        type: 'validation',
        errors: [{ field: 'header.Authorization', message: 'must be sent once' }],
      }),
    };
  const [value] = values;
  if (value !== undefined && Buffer.byteLength(value) > MAX_AUTHORIZATION_BYTES)
    return {
      problem: problem(431, `RL-11: the Authorization header is larger than ${MAX_AUTHORIZATION_BYTES} bytes`, {
        type: 'header-too-large',
      }),
    };
  return value === undefined ? {} : { value };
}

/**
 * RL-11, RL-12: the checks API Gateway's JWT authorizer makes, at least as strictly: HS256 with the
 * local secret; `exp` required and in the future; `iat` and `nbf`, when present, at most 60 s ahead;
 * `iss` and `aud` the configured ones; the roles claim a list of role names. Wall-clock time, as in
 * AWS (the virtual clock of POST /_local/clock moves timers, not token lifetimes).
 */
async function verifiedClaims(
  authorization: string | undefined,
  check: { key: Uint8Array; issuer: string; audience: string },
): Promise<{ claims: JWTPayload } | { problem: Problem }> {
  const token = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1];
  if (!token) return { problem: unauthorized('a valid bearer token is required') };
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, check.key, {
      algorithms: ['HS256'],
      issuer: check.issuer,
      audience: check.audience,
      requiredClaims: ['exp'],
      clockTolerance: JWT_CLOCK_SKEW_SECONDS,
    }));
  } catch (err) {
    if (err instanceof errors.JWTExpired) return { problem: unauthorized('RL-11: the token has expired') };
    if (err instanceof errors.JWTClaimValidationFailed)
      return {
        problem: unauthorized(
          `RL-11: the token's ${err.claim} claim is ${err.reason === 'missing' ? 'missing' : 'not accepted'}`,
        ),
      };
    return { problem: unauthorized('a valid bearer token is required') };
  }
  // the tolerance is for clocks running ahead: an `exp` already past is refused without it
  const now = Math.floor(Date.now() / 1000);
  if ((claims.exp as number) <= now) return { problem: unauthorized('RL-11: the token has expired') };
  if (claims.iat !== undefined && claims.iat > now + JWT_CLOCK_SKEW_SECONDS)
    return { problem: unauthorized("RL-11: the token's iat claim is in the future") };
  const roles = parseRolesClaim(claims.roles);
  if (!roles.ok) return { problem: unauthorized(`RL-12: ${roles.reason}`) };
  return { claims };
}

/**
 * What node:http answers before a request reaches the server (a malformed request, or headers over
 * its 16 KiB limit): problem+json, as every other refusal (RL-10, RL-11).
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const p =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? problem(431, 'RL-11: the request headers are too large', { type: 'header-too-large' })
      : problem(400, 'the request is not valid HTTP', { type: 'validation' });
  const body = JSON.stringify(p);
  socket.end(
    `HTTP/1.1 ${p.status} ${p.title}\r\ncontent-type: application/problem+json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * A node:http server that does what API Gateway (HTTP API) does for the engine: matches the route,
 * verifies the JWT (HS256 with LOCAL_JWT_SECRET here, checked as the JWT authorizer checks in AWS:
 * RL-11, RL-12, docs/security.md), and hands the same Lambda handler modules an API Gateway v2 event
 * with the verified claims.
 */
export function createLocalHttpServer(options: {
  routes: LocalRoute[];
  jwtSecret: string;
  /** the accepted `iss` (default urn:contact-center-engine:local) */
  jwtIssuer?: string;
  /** the accepted `aud` (default contact-center-engine) */
  jwtAudience?: string;
  local?: Record<string, LocalEndpoint>;
}): Server {
  // Literal segments outrank parameters, as in API Gateway (/v1/agents/me/presence over /v1/agents/{id}).
  const table = options.routes
    .map((r) => ({
      ...r,
      ...compile(r.route.path),
      literal: r.route.path.split('/').filter((s) => !s.startsWith('{')).length,
    }))
    .sort((a, b) => b.literal - a.literal);
  const jwtCheck = {
    key: new TextEncoder().encode(options.jwtSecret),
    issuer: options.jwtIssuer ?? LOCAL_JWT_DEFAULTS.issuer,
    audience: options.jwtAudience ?? LOCAL_JWT_DEFAULTS.audience,
  };

  const send = (res: ServerResponse, status: number, body: string, type: string): void => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const sendProblem = (res: ServerResponse, p: Problem): void =>
    send(res, p.status, JSON.stringify(p), 'application/problem+json');

  /**
   * The body as text; null past 256 KiB; undefined when the request never ends: the client went away
   * mid-body, or sent a body Node cannot frame (a bad chunk size, a truncated chunked body), which
   * Node answers itself with a 400 and closes. Neither is an error of this server: nothing to answer.
   */
  const readBody = (req: IncomingMessage): Promise<string | null | undefined> =>
    new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      // Past the limit, read on without keeping anything, then answer 413 (destroying the request
      // would reset the connection before the client reads the answer).
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
      });
      req.on('end', () => resolve(size > MAX_BODY ? null : Buffer.concat(chunks).toString('utf8')));
      req.on('error', () => resolve(undefined));
      req.on('close', () => resolve(undefined));
    });

  const server = createServer((req, res) => {
    // No exception escapes a request: what a handler or this server did not foresee is a 500
    // problem+json, and the process keeps serving (RL-4).
    handle(req, res).catch((err: unknown) => {
      console.error('local HTTP server: unexpected error', err);
      if (res.headersSent) res.destroy();
      else sendProblem(res, problem(500, 'an unexpected error occurred', { type: 'internal' }));
    });
  });
  server.on('clientError', answerClientError);
  // CONNECT never reaches the request handler: without a listener Node closes the connection
  // unanswered. It is a method no route has, so a 404 like any other (RL-10); the socket is ours now.
  // What the client sends after the head is read and dropped: left unread, it would hold the socket
  // half-open (and server.close() with it), or reset it before the client reads the answer. A client
  // that never closes its side is let go after a while.
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    socket.resume();
    const body = JSON.stringify(
      problem(404, `no route for CONNECT ${String(req.url).slice(0, 200)}`, { type: 'not-found' }),
    );
    socket.end(
      `HTTP/1.1 404 Not Found\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    const linger = setTimeout(() => socket.destroy(), 2_000);
    linger.unref();
    socket.on('close', () => clearTimeout(linger));
  });
  return server;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    {
      const method = (req.method ?? 'GET').toUpperCase();
      const body = await readBody(req);
      if (body === undefined) return void res.destroy();
      if (body === null)
        return sendProblem(res, problem(413, 'the body is larger than 256 KiB', { type: 'payload-too-large' }));
      const url = requestTarget(req.url ?? '');
      if (!url)
        return sendProblem(
          res,
          problem(400, 'the request target is not a path', {
            type: 'validation',
            errors: [{ field: 'path', message: 'must be an absolute path such as /v1/conversations' }],
          }),
        );
      // what API Gateway refuses before any route or authorizer (RL-11)
      const authorization = authorizationHeader(req);
      if ('problem' in authorization) return sendProblem(res, authorization.problem);
      const local = options.local?.[`${method} ${url.pathname}`];
      if (local) {
        let json: unknown;
        try {
          json = body ? JSON.parse(body) : {};
        } catch {
          return sendProblem(res, problem(400, 'the body is not valid JSON', { type: 'validation' }));
        }
        try {
          return send(res, 200, JSON.stringify(await local(json)), 'application/json');
        } catch (err) {
          const p =
            (err as { problem?: Problem }).problem ??
            problem(500, 'an unexpected error occurred', { type: 'internal' });
          return sendProblem(res, p);
        }
      }
      let matched: { entry: (typeof table)[number]; params: Record<string, string> } | undefined;
      for (const entry of table) {
        if (entry.route.method !== method) continue;
        const m = entry.regex.exec(url.pathname);
        if (!m) continue;
        const params = decodedParams(entry.names, m);
        if (!params)
          return sendProblem(
            res,
            problem(400, 'the path is not valid percent-encoded UTF-8', {
              type: 'validation',
              errors: [{ field: 'path', message: 'is not valid percent-encoding' }],
            }),
          );
        matched = { entry, params };
        break;
      }
      if (!matched)
        return sendProblem(res, problem(404, `no route for ${method} ${url.pathname}`, { type: 'not-found' }));
      const { entry, params } = matched;

      let claims: JWTPayload | undefined;
      if (entry.route.auth === 'jwt') {
        const verified = await verifiedClaims(authorization.value, jwtCheck);
        if ('problem' in verified) return sendProblem(res, verified.problem);
        claims = verified.claims;
      }
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]),
      );
      const query = Object.fromEntries(url.searchParams.entries());
      const routeKey = `${entry.route.method} ${entry.route.path}`;
      const event = {
        version: '2.0',
        routeKey,
        rawPath: url.pathname,
        rawQueryString: url.search.slice(1),
        headers,
        ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
        ...(Object.keys(params).length ? { pathParameters: params } : {}),
        ...(body ? { body } : {}),
        isBase64Encoded: false,
        requestContext: {
          accountId: '000000000000',
          apiId: 'local',
          domainName: 'localhost',
          domainPrefix: 'localhost',
          http: {
            method,
            path: url.pathname,
            protocol: 'HTTP/1.1',
            sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
            userAgent: req.headers['user-agent'] ?? '',
          },
          requestId: randomUUID(),
          routeKey,
          stage: '$default',
          time: new Date().toUTCString(),
          timeEpoch: Date.now(),
          ...(claims ? { authorizer: { jwt: { claims, scopes: [] } } } : {}),
        },
      } as unknown as APIGatewayProxyEventV2;
      try {
        const out = await entry.handler(event, lambdaContext(`local-${routeKey}`));
        res.writeHead(out.statusCode ?? 200, (out.headers ?? {}) as Record<string, string>);
        res.end(out.body ?? '');
      } catch {
        sendProblem(res, problem(500, 'an unexpected error occurred', { type: 'internal' }));
      }
    }
  }
}

/**
 * The path and query of a request target (RFC 9112, section 3.2): the origin form `/path?query`, or the
 * absolute form `http://host/path?query` (its host is not ours to check); undefined for anything else
 * (`*`, an authority). The path is taken as sent, never resolved as a URL reference: `//x/health` is
 * not `/health` on host x, and `//` is not a URL that fails to parse. A fragment, which no client
 * sends, is dropped.
 */
export function requestTarget(
  target: string,
): { pathname: string; search: string; searchParams: URLSearchParams } | undefined {
  const origin = /^https?:\/\/[^/?#]*/i.exec(target);
  const rest = (origin ? target.slice(origin[0].length) : target).split('#')[0] as string;
  const path = origin && !rest.startsWith('/') ? `/${rest}` : rest;
  if (!path.startsWith('/')) return undefined;
  const q = path.indexOf('?');
  const search = q < 0 ? '' : path.slice(q);
  return { pathname: q < 0 ? path : path.slice(0, q), search, searchParams: new URLSearchParams(search) };
}

/** The route's path parameters, percent-decoded; undefined when one is not valid percent-encoded UTF-8. */
function decodedParams(names: readonly string[], m: RegExpExecArray): Record<string, string> | undefined {
  try {
    return Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1] as string)]));
  } catch {
    return undefined;
  }
}
