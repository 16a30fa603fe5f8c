import { Tags, Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readConfig, SERVICE_NAME, type EngineConfig } from './config.js';
import { StatefulStack } from './stateful-stack.js';
import { StatelessStack } from './stateless-stack.js';

export interface EngineApp {
  config: EngineConfig;
  stateful: StatefulStack;
  stateless: StatelessStack;
}

/**
 * The engine's two stacks for one stage, from CDK context, with the AWS Solutions checks of
 * cdk-nag. Both stacks are environment-agnostic (no account or region lookups at synth time);
 * `cdk deploy` targets the account and region of the caller's credentials.
 */
export function buildEngineApp(app: App): EngineApp {
  const config = readConfig(app.node);
  const prefix = `ContactCenterEngine-${config.stage}`;
  const stateful = new StatefulStack(app, `${prefix}-Stateful`, {
    description: `contact-center-engine ${config.stage}: table, queues and DLQs, data key`,
    stage: config.stage,
    retainData: config.retainData,
  });
  const stateless = new StatelessStack(app, `${prefix}-Stateless`, {
    description: `contact-center-engine ${config.stage}: functions, HTTP API, timer scheduling, monitoring`,
    config,
    data: stateful,
  });
  Tags.of(app).add('service', SERVICE_NAME);
  Tags.of(app).add('stage', config.stage);
  // Any finding not fixed or acknowledged (with a reason, next to the resource) fails the synth.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { config, stateful, stateless };
}
