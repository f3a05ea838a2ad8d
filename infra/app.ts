import { Annotations, App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { clusterLocation, judgePlaceholder, settingsFromContext } from './config.ts';
import { OffpeakStack } from './stacks/offpeak-stack.ts';

/** cdk.json's entry: `npx cdk synth|deploy -c clusterArn=… -c secretArn=… …`. */
const app = new App();
const settings = settingsFromContext(app);

// The cluster's account and region, or the CDK's (credentials / CDK_DEFAULT_ACCOUNT), or an explicit one.
const knownAccount: string | undefined = app.node.tryGetContext('account') ?? process.env['CDK_DEPLOY_ACCOUNT'] ?? process.env['CDK_DEFAULT_ACCOUNT'];
const placeholder = judgePlaceholder(settings, knownAccount);
if (placeholder.kind === 'error') throw new Error(placeholder.message);

// The stack deploys where the cluster is: the CDK CLI then refuses credentials for another account or region.
const cluster = clusterLocation(settings.clusterArn);
const stack = new OffpeakStack(app, app.node.tryGetContext('stackName') ?? 'Offpeak', {
  settings,
  env: { account: cluster.account, region: cluster.region },
  description: 'offpeak: off-peak migrations and nightly index health for an Aurora PostgreSQL cluster',
});
if (placeholder.kind === 'warn') Annotations.of(stack).addWarningV2('offpeak:placeholder-cluster', placeholder.message);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
