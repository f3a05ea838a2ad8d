import { Stack, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag acknowledgements shared by several constructs, each narrowed to one
 * finding (rule plus the exact resource) and each with its reason.
 */

/**
 * Step Functions' LambdaInvoke and Scheduler's LambdaInvoke grant
 * lambda:InvokeFunction on the function and on `<arn>:*`, its versions and
 * aliases; the wildcard covers only qualifiers of that one function.
 */
export function acknowledgeInvokeQualifiers(scope: IConstruct, fn: lambda.IFunction): void {
  const logicalId = Stack.of(fn).getLogicalId(fn.node.defaultChild as import('aws-cdk-lib').CfnElement);
  Validations.of(scope).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`,
    reason: 'The grant covers versions and aliases (<arn>:*) of this one function, as the CDK task and scheduler targets generate it.',
  });
}
