import type { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import { Construct } from 'constructs';
import { EnvName, METRICS_NAMESPACE, PowertoolsEnv } from '../../lambdas/runtime/env-names.ts';
import { ESBUILD_TARGET, ESM_REQUIRE_BANNER, EXTERNAL_MODULES, entryPath, type HandlerName } from '../bundling.ts';
import { secretArnPattern, type DatabaseTarget } from './database-target.ts';

/** Powertools' `service`: in every log line and as a dimension of every EMF metric. */
export const serviceName = (handler: HandlerName): string => `offpeak-${handler}`;

export interface OffpeakFunctionProps {
  handler: HandlerName;
  description: string;
  /** Lambda's ceiling is 15 minutes. */
  timeout: Duration;
  memorySize?: number;
  environment?: Record<string, string>;
  logRetention?: logs.RetentionDays;
}

/**
 * A handler with offpeak's defaults fixed once: nodejs24.x on arm64, bundled by
 * the local esbuild (never Docker), minified ESM with source maps, its own log
 * group with a retention, and a role that can write only to that log group.
 * `bindDatabase` / `bindTopic` / `bindSecret` set environment and grants in one call.
 */
export class OffpeakFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: OffpeakFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
    });

    // An own role instead of AWSLambdaBasicExecutionRole: that managed policy lets
    // the function write to every log group in the account.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `offpeak ${props.handler} function`,
    });
    const logPolicy = new iam.Policy(this, 'LogsPolicy', {
      statements: [
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          // The log group's Arn attribute already ends in `:*`, which covers its streams.
          resources: [this.logGroup.logGroupArn],
        }),
      ],
    });
    logPolicy.attachToRole(this.role);
    this.function = new NodejsFunction(this, 'Function', {
      entry: entryPath(props.handler),
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.DISABLED,
      environment: {
        [PowertoolsEnv.serviceName]: serviceName(props.handler),
        [PowertoolsEnv.metricsNamespace]: METRICS_NAMESPACE,
        [PowertoolsEnv.logLevel]: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        minify: true,
        // error class names (new.target.name) must survive minification: see infra/bundling.ts
        keepNames: true,
        sourceMap: true,
        sourcesContent: false,
        target: ESBUILD_TARGET,
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        externalModules: EXTERNAL_MODULES,
      },
    });
  }

  addEnvironment(name: string, value: string): this {
    this.function.addEnvironment(name, value);
    return this;
  }

  /** Data API access to one cluster: the four rds-data calls offpeak makes and the credentials secret. */
  bindDatabase(target: DatabaseTarget): this {
    this.addEnvironment(EnvName.clusterArn, target.clusterArn)
      .addEnvironment(EnvName.secretArn, target.secretArn)
      .addEnvironment(EnvName.databaseName, target.databaseName)
      .addEnvironment(EnvName.ledgerSchema, target.ledgerSchema);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DataApi',
        actions: [
          'rds-data:ExecuteStatement',
          'rds-data:BeginTransaction',
          'rds-data:CommitTransaction',
          'rds-data:RollbackTransaction',
        ],
        resources: [target.clusterArn],
      }),
    );
    // The Data API reads the credentials secret with the caller's own permissions.
    this.bindSecret(target.secretArn, 'DatabaseSecret');
    return this;
  }

  /**
   * secretsmanager:GetSecretValue on one secret (complete or partial ARN), and
   * kms:Decrypt on its customer-managed key when it has one (only through Secrets Manager).
   */
  bindSecret(secretArn: string, sid: string, keyArn?: string): this {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid, actions: ['secretsmanager:GetSecretValue'], resources: [secretArnPattern(secretArn)] }),
    );
    if (keyArn) {
      const region = secretArn.split(':')[3];
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: `${sid}Key`,
          actions: ['kms:Decrypt'],
          resources: [keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
        }),
      );
    }
    return this;
  }

  /**
   * Async invocations (a schedule, an SNS delivery) that still fail after Lambda's two
   * retries go to this queue, where an alarm watches; without it they are dropped.
   */
  failAsyncInto(queue: sqs.IQueue): this {
    this.function.configureAsyncInvoke({ onFailure: new destinations.SqsDestination(queue), retryAttempts: 2 });
    return this;
  }

  /** sns:Publish on the topic, plus the key use an encrypted topic needs. */
  bindTopic(topic: sns.ITopic, key: kms.IKey): this {
    this.addEnvironment(EnvName.topicArn, topic.topicArn);
    grantPublishEncrypted(this.role, topic, key);
    return this;
  }
}

/**
 * Publishing to a KMS-encrypted topic: sns:Publish on the topic and, on its key,
 * kms:GenerateDataKey (SNS encrypts the message with a data key) and kms:Decrypt.
 * Written out instead of topic.grantPublish, which grants kms:GenerateDataKey*.
 */
export function grantPublishEncrypted(grantee: iam.IGrantable, topic: sns.ITopic, key: kms.IKey): void {
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'PublishAlerts', actions: ['sns:Publish'], resources: [topic.topicArn] }));
  grantTopicKey(grantee, key);
}

/** The key use publishing to an encrypted topic needs (for grantees whose sns:Publish is granted elsewhere). */
export function grantTopicKey(grantee: iam.IGrantable, key: kms.IKey): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({ sid: 'EncryptAlerts', actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [key.keyArn] }),
  );
}
