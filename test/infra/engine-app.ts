import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildEngineApp, type EngineApp } from '../../lib/app.js';

export interface SynthesizedEngine extends EngineApp {
  app: App;
  stateful: EngineApp['stateful'];
  stateless: EngineApp['stateless'];
  statefulTemplate: Template;
  statelessTemplate: Template;
}

/**
 * Builds and synthesizes the engine app once, as `cdk synth` would, with the given context. The
 * Lambda bundles are skipped (`npm run synth` bundles them for real) and so is CDK's built-in
 * CloudFormation schema validation (it runs in `npm run synth` too); cdk-nag still runs here,
 * so an unacknowledged finding fails these tests as it fails the synth.
 */
export function synthEngine(context: Record<string, unknown> = {}): SynthesizedEngine {
  const app = new App({
    builtinCloudFormationValidation: false,
    context: { 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:defaultCrossStackReferences': 'strong', ...context },
  });
  const engine = buildEngineApp(app);
  return {
    app,
    ...engine,
    statefulTemplate: Template.fromStack(engine.stateful),
    statelessTemplate: Template.fromStack(engine.stateless),
  };
}

type Json = Record<string, unknown>;

/**
 * The value a cross-stack `Fn::ImportValue` stands for, as the exporting template declares it
 * (e.g. `{ "Fn::GetAtt": ["IngestDlq1234", "QueueName"] }`).
 */
export function exportedValue(exporting: Template, importValue: unknown): unknown {
  const name = (importValue as { 'Fn::ImportValue'?: unknown })['Fn::ImportValue'];
  if (typeof name !== 'string') throw new Error(`not an Fn::ImportValue: ${JSON.stringify(importValue)}`);
  const outputs =
    (exporting.toJSON() as { Outputs?: Record<string, { Value: unknown; Export?: { Name?: string } }> }).Outputs ?? {};
  const out = Object.values(outputs).find((o) => o.Export?.Name === name);
  if (!out) throw new Error(`no export named ${name}`);
  return out.Value;
}

/** Logical id of the resource a `Ref`/`Fn::GetAtt` (directly, or through an import) points at. */
export function referencedId(value: unknown, exporting?: Template): string | undefined {
  if (value && typeof value === 'object') {
    const v = value as Json;
    if ('Fn::ImportValue' in v && exporting) return referencedId(exportedValue(exporting, v), exporting);
    if (typeof v.Ref === 'string') return v.Ref;
    const att = v['Fn::GetAtt'];
    if (Array.isArray(att) && typeof att[0] === 'string') return att[0];
  }
  return undefined;
}

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Condition?: Json;
}

export const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
export const resourcesOf = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** Every statement of the policies attached to a role (by the role's logical id). */
export function statementsOfRole(template: Template, roleId: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((p) => ((p.Properties as Json).Roles as unknown[]).some((r) => referencedId(r) === roleId))
    .flatMap((p) => ((p.Properties as Json).PolicyDocument as { Statement: Statement[] }).Statement);
}

/** The Lambda functions of a template with their logical ids and the logical id of their role. */
export function functionsOf(template: Template): { id: string; roleId: string; props: Json }[] {
  return Object.entries(template.findResources('AWS::Lambda::Function')).map(([id, r]) => {
    const props = r.Properties as Json;
    return { id, roleId: referencedId(props.Role) as string, props };
  });
}
