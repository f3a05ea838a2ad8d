import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEFAULT_SETTINGS, type OffpeakSettings } from '../../infra/config.ts';
import { OffpeakStack } from '../../infra/stacks/offpeak-stack.ts';

/** Settings as a real deployment would give them, with Slack and two emails. */
export const TEST_SETTINGS: OffpeakSettings = {
  ...DEFAULT_SETTINGS,
  clusterArn: 'arn:aws:rds:eu-west-1:111122223333:cluster:shop-db',
  secretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop-db-credentials-Ab12Cd',
  databaseName: 'shop',
  windowCron: 'cron(0 2 ? * MON-FRI *)',
  timeZone: 'Europe/Moscow',
  windowMinutes: 90,
  nightlyCron: 'cron(15 1 * * ? *)',
  reportCron: 'cron(45 1 * * ? *)',
  alertEmails: ['dba@example.com', 'oncall@example.com'],
  slackWebhookSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:offpeak/slack-webhook-Xy98Zw',
};

export interface Synthesized {
  stack: OffpeakStack;
  template: Template;
  /** The failed synth's report lines (cdk-nag findings nobody acknowledged); empty when synth passed. */
  nagErrors: string[];
}

/**
 * Synthesizes the stack once, with cdk-nag, and without bundling (esbuild is
 * exercised by the bundle test): templates are what these tests are about.
 */
export function synthOffpeak(settings: OffpeakSettings = TEST_SETTINGS, extend?: (stack: OffpeakStack) => void): Synthesized {
  const app = new App({ builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new OffpeakStack(app, 'OffpeakTest', { settings });
  extend?.(stack);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  try {
    // One synth: the template comes from the assembly (Template.fromStack would synthesize again).
    const assembly = app.synth();
    return { stack, template: Template.fromJSON(assembly.getStackArtifact(stack.artifactId).template as Record<string, unknown>), nagErrors: [] };
  } catch (error) {
    const nagErrors = String((error as Error).message).split('\n').filter((l) => l.trim());
    return { stack, template: Template.fromJSON({ Resources: {} }), nagErrors };
  }
}
