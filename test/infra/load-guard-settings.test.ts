import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { settingsFromContext } from '../../infra/config.ts';
import { loadGuardOptions } from '../../lambdas/runtime/config.ts';
import { EnvName } from '../../lambdas/runtime/env-names.ts';
import { synthOffpeak, TEST_SETTINGS } from './synth.ts';

/** The window run's load guard as CDK context: one rule at synth and at run time (setting-rules.ts). */
describe('load guard settings', () => {
  it('context maxLoad / criticalLoad reach the migrate function only, and the state machine carries throttled time between advances', () => {
    // Act
    const settings = settingsFromContext(new App({ context: { maxLoad: 'active=8,waiting=4', criticalLoad: 'active=40,cancel-builds' } }));
    const { template } = synthOffpeak({ ...TEST_SETTINGS, maxLoad: settings.maxLoad, criticalLoad: settings.criticalLoad });

    // Assess
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as Array<{ Properties: { Description?: string; Environment?: { Variables?: Record<string, unknown> } } }>;
    const withLoad = functions.filter((f) => f.Properties.Environment?.Variables?.[EnvName.maxLoad] !== undefined);
    expect(withLoad.map((f) => f.Properties.Description)).toEqual([expect.stringMatching(/^offpeak: advances a window run/)]);
    expect(withLoad[0]!.Properties.Environment!.Variables).toMatchObject({ [EnvName.maxLoad]: 'active=8,waiting=4', [EnvName.criticalLoad]: 'active=40,cancel-builds' });
    const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0] as { Properties: { DefinitionString: unknown } };
    const definition = JSON.stringify(machine.Properties.DefinitionString);
    expect(definition).toContain('\\"throttledMs.$\\":\\"$.run.throttledMs\\"');
    expect(definition).toContain('\\"throttledMs\\":0');
  });

  it('refuses a bad limit at synth and at run time with the same rule, naming the value and the expected form', () => {
    const expected = /"active=many": active must be a whole number of sessions \(0 or more\), got "many"; expected active=N\[,waiting=M\]/;
    expect(() => settingsFromContext(new App({ context: { maxLoad: 'active=many' } }))).toThrow(/context maxLoad = "active=many" is not valid: /);
    expect(() => settingsFromContext(new App({ context: { maxLoad: 'active=many' } }))).toThrow(expected);
    expect(() => loadGuardOptions({ [EnvName.maxLoad]: 'active=many' })).toThrow(/Environment variable OFFPEAK_MAX_LOAD: maxLoad = "active=many" is not valid: /);
    expect(() => loadGuardOptions({ [EnvName.maxLoad]: 'active=many' })).toThrow(expected);
    expect(() => settingsFromContext(new App({ context: { maxLoad: 'active=3,cancel-builds' } }))).toThrow(/cancel-builds belongs to --critical-load/);
  });

  it('reads the environment the stack sets; none set is no guard', () => {
    expect(loadGuardOptions({ [EnvName.maxLoad]: 'active=8', [EnvName.criticalLoad]: 'waiting=10,cancel-builds' })).toEqual({ maxLoad: { active: 8 }, criticalLoad: { waiting: 10, cancelBuilds: true } });
    expect(loadGuardOptions({})).toBeUndefined();
  });
});
