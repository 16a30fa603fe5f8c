import { App } from 'aws-cdk-lib';
import { buildEngineApp } from '../lib/app.js';

// Stage, JWT issuer/audience and the rest come from context: see README, Deploy.
buildEngineApp(new App());
