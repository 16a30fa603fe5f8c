/**
 * A handler module's Lambda entry: builds the handler from the environment (functions/config.ts)
 * once per execution environment, on its first invocation, and reuses it. A missing or malformed
 * variable fails that invocation with the variable's name, before any work. (Not at import: the
 * route registry, and through it the CDK app, import the handler modules for their routes.)
 */
export function fromEnvironment<E, C, R>(
  build: () => (event: E, context: C) => Promise<R>,
): (event: E, context: C) => Promise<R> {
  let built: ((event: E, context: C) => Promise<R>) | undefined;
  return (event, context) => (built ??= build())(event, context);
}
