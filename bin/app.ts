import { App } from 'aws-cdk-lib';
import { StatefulStack } from '../lib/stateful-stack.js';

const app = new App();
const stage = (app.node.tryGetContext('stage') as string | undefined) ?? 'dev';
new StatefulStack(app, `ContactCenterEngine-${stage}-Stateful`, {
  retainData: stage === 'prod' || app.node.tryGetContext('retainData') === 'true',
});
