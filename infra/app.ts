import { Annotations, App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PLACEHOLDER_CLUSTER_ARN, settingsFromContext } from './config.ts';
import { OffpeakStack } from './stacks/offpeak-stack.ts';

/** cdk.json's entry: `npx cdk synth|deploy -c clusterArn=… -c secretArn=… …`. */
const app = new App();
const settings = settingsFromContext(app);
const stack = new OffpeakStack(app, app.node.tryGetContext('stackName') ?? 'Offpeak', {
  settings,
  description: 'offpeak: off-peak migrations and nightly index health for an Aurora PostgreSQL cluster',
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
if (settings.clusterArn === PLACEHOLDER_CLUSTER_ARN) {
  Annotations.of(stack).addWarningV2('offpeak:placeholder-cluster', 'synthesized for a placeholder cluster: deploy with -c clusterArn=… -c secretArn=…');
}
app.synth();
