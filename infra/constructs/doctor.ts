import { Duration } from 'aws-cdk-lib';
import * as triggers from 'aws-cdk-lib/triggers';
import { Construct } from 'constructs';
import type { DatabaseTarget } from './database-target.ts';
import { OffpeakFunction } from './offpeak-function.ts';

export interface DoctorProps {
  database: DatabaseTarget;
  /** Run the doctor after each deploy (`-c doctorOnDeploy=false` turns it off). */
  runOnDeploy: boolean;
}

/**
 * `offpeak doctor` as a Lambda, and a CDK trigger that invokes it once the stack's
 * resources exist: a wrong ARN, a disabled Data API or a missing privilege fails
 * the deploy instead of the first window.
 */
export class Doctor extends Construct {
  readonly function: OffpeakFunction;
  readonly trigger: triggers.Trigger | undefined;

  constructor(scope: Construct, id: string, props: DoctorProps) {
    super(scope, id);
    this.function = new OffpeakFunction(this, 'Function', {
      handler: 'doctor',
      description: 'offpeak doctor: checks the Data API, engine, role settings, privileges and ledger',
      timeout: Duration.minutes(2),
    }).bindDatabase(props.database);
    if (props.runOnDeploy) {
      this.trigger = new triggers.Trigger(this, 'AfterDeploy', {
        handler: this.function.function,
        // Again whenever its code changes (a new bundle may carry new migrations to check).
        executeOnHandlerChange: true,
        timeout: Duration.minutes(3),
        // The function's role, its policies and log group first: the doctor must run with its real grants.
        executeAfter: [this.function],
      });
    }
  }
}
