import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPOSITORY_NAMES } from '../support/store.js';

/**
 * The layers, read from the sources: handlers call use cases only (they hand a use case their
 * runtime's `deps` and never name the store), and only the wiring (functions/handlers/wiring/**)
 * builds adapters. The domain, the ports, the use cases and the follow-ups import neither adapters
 * nor handlers.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

const source = (file: string): ts.SourceFile =>
  ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);

function walk(node: ts.Node, visit: (n: ts.Node) => void): void {
  visit(node);
  node.forEachChild((child) => walk(child, visit));
}

/** Every module a file names: imports and re-exports (types too), `import()` calls and types. */
function importsOf(file: string): string[] {
  const specifiers: string[] = [];
  walk(source(file), (n) => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier)
      specifiers.push((n.moduleSpecifier as ts.StringLiteral).text);
    else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = n.arguments;
      if (arg && ts.isStringLiteralLike(arg)) specifiers.push(arg.text);
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal))
      specifiers.push(n.argument.literal.text);
  });
  return specifiers
    .filter((s) => s.startsWith('.'))
    .map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)).replace(/\.js$/, '.ts'));
}

const list = (items: readonly string[]): string => items.map((i) => `\n  - ${i}`).join('');

const HTTP_HANDLERS = filesUnder('functions/handlers/http').filter((f) => f.endsWith('.handler.ts'));
const HANDLER_MODULES = filesUnder('functions/handlers').filter((f) => !f.startsWith('functions/handlers/wiring/'));
const INNER_MODULES = ['functions/domain', 'functions/ports', 'functions/use-cases', 'functions/follow-ups'].flatMap(
  filesUnder,
);

const REPOSITORY_PORTS = [
  'Conversations',
  'Messages',
  'DecisionReads',
  'Commits',
  'Agents',
  'Configuration',
  'AvailabilityIndex',
  'Outbox',
  'Lists',
  'Contacts',
  'Notes',
  'Receipts',
  'QueueStats',
];
const REPOSITORY_MODULES = filesUnder('functions/adapters/dynamodb/repositories').filter(
  (f) => !f.endsWith('index.ts'),
);
/** the DynamoDB adapter's modules that write or read items, but must take keys from keys.ts and items from entities.ts */
const STORAGE_MODULES = filesUnder('functions/adapters/dynamodb').filter(
  (f) => !f.endsWith('/keys.ts') && !f.endsWith('/entities.ts'),
);

/** `file:line text` for every `x.name` / `x?.name` property access whose object ends in `deps` */
function propertyUses(file: string, name: string): string[] {
  const sf = source(file);
  const found: string[] = [];
  walk(sf, (n) => {
    if (ts.isPropertyAccessExpression(n) && n.name.text === name && /(^|\.)(deps|rt)$/.test(n.expression.getText()))
      found.push(`${file}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1} ${n.getText()}`);
  });
  return found;
}

/** Object literal properties named like a key or index attribute, and strings that spell a key prefix. */
function keyLiterals(file: string): string[] {
  const sf = source(file);
  const found: string[] = [];
  const at = (n: ts.Node): string =>
    `${file}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1} ${n.getText()}`;
  walk(sf, (n) => {
    if (ts.isPropertyAssignment(n) && /^(PK|SK|GSI\dPK|GSI\dSK)$/.test(n.name.getText())) found.push(at(n));
    if (
      (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateHead(n)) &&
      /ORG#|[A-Z]{3,}#/.test(n.text)
    )
      found.push(at(n));
  });
  return found;
}

/** The interfaces a file's classes implement. */
function implementsOf(file: string): string[] {
  const names: string[] = [];
  walk(source(file), (n) => {
    if (ts.isClassDeclaration(n))
      for (const clause of n.heritageClauses ?? [])
        if (clause.token === ts.SyntaxKind.ImplementsKeyword)
          names.push(...clause.types.map((t) => t.expression.getText()));
  });
  return names;
}

describe('layering', () => {
  it('finds the modules it checks', () => {
    expect(HTTP_HANDLERS).toContain('functions/handlers/http/conversations.handler.ts');
    expect(HTTP_HANDLERS.length).toBeGreaterThanOrEqual(6);
    expect(INNER_MODULES).toContain('functions/use-cases/conversation-reads.use-case.ts');
  });

  it('HTTP handlers never reach a repository (no rt.deps.lists...): they parse, call a use case with rt.deps, and map a view', () => {
    const uses = HTTP_HANDLERS.flatMap((f) => [...REPOSITORY_NAMES, 'store'].flatMap((name) => propertyUses(f, name)));
    expect(uses, `handlers that reach a repository instead of calling a use case:${list(uses)}`).toEqual([]);
  });

  it('no item key or index attribute is assembled outside keys.ts and entities.ts', () => {
    const wrong = STORAGE_MODULES.flatMap((f) => keyLiterals(f));
    expect(wrong, `keys or index attributes built by hand (use an entity):${list(wrong)}`).toEqual([]);
  });

  it('each repository module implements one port of functions/ports/repositories.ts', () => {
    const ports = new Set(REPOSITORY_PORTS);
    const wrong = REPOSITORY_MODULES.flatMap((f) => {
      const implemented = implementsOf(f);
      return implemented.length === 1 && ports.has(implemented[0] as string) ? [] : [`${f}: ${implemented.join(', ')}`];
    });
    expect(REPOSITORY_MODULES.length).toBeGreaterThanOrEqual(REPOSITORY_NAMES.length);
    expect(wrong, `repository modules that implement no port or several:${list(wrong)}`).toEqual([]);
  });

  it('no handler module imports functions/adapters/** except through functions/handlers/wiring/**', () => {
    const wrong = HANDLER_MODULES.flatMap((f) =>
      importsOf(f)
        .filter((m) => m.startsWith('functions/adapters/'))
        .map((m) => `${f} imports ${m}`),
    );
    expect(wrong, `handler modules that import an adapter (build it in the wiring):${list(wrong)}`).toEqual([]);
  });

  it('the domain, ports, use cases and follow-ups import no adapter and no handler', () => {
    const wrong = INNER_MODULES.flatMap((f) =>
      importsOf(f)
        .filter((m) => m.startsWith('functions/adapters/') || m.startsWith('functions/handlers/'))
        .map((m) => `${f} imports ${m}`),
    );
    expect(wrong, `inner modules that depend on an outer layer:${list(wrong)}`).toEqual([]);
  });
});
