import type { Template } from 'aws-cdk-lib/assertions';

/** Resources of one type, by logical id. */
export function resourcesOf(template: Template, type: string): Record<string, { Properties: Record<string, unknown> }> {
  return template.findResources(type) as Record<string, { Properties: Record<string, unknown> }>;
}

/** The single resource of `type` whose logical id starts with `prefix`. */
export function resourceNamed(template: Template, type: string, prefix: string): { id: string; props: Record<string, unknown> } {
  const matches = Object.entries(resourcesOf(template, type)).filter(([id]) => id.startsWith(prefix));
  if (matches.length !== 1) throw new Error(`expected one ${type} named ${prefix}*, found ${matches.map(([id]) => id).join(', ') || 'none'}`);
  return { id: matches[0]![0], props: matches[0]![1].Properties };
}

/**
 * Renders an intrinsic as a readable string: {Ref: X} → "<X>", {Fn::GetAtt: [X, Arn]} → "<X.Arn>",
 * Fn::Join concatenated. Lets tests compare IAM resources and ARNs as plain text.
 */
export function render(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if ('Ref' in v) return `<${String(v['Ref'])}>`;
    if ('Fn::GetAtt' in v) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(sep);
    }
  }
  return JSON.stringify(value);
}

export interface Statement {
  actions: string[];
  resources: string[];
}

/** Every statement of every IAM policy attached to the role, actions and resources rendered as text. */
export function statementsOfRole(template: Template, roleLogicalId: string): Statement[] {
  const out: Statement[] = [];
  for (const policy of Object.values(resourcesOf(template, 'AWS::IAM::Policy'))) {
    const roles = (policy.Properties['Roles'] as unknown[]).map(render);
    if (!roles.includes(`<${roleLogicalId}>`)) continue;
    const doc = policy.Properties['PolicyDocument'] as { Statement: Array<{ Action: string | string[]; Resource: unknown }> };
    for (const s of doc.Statement) {
      const actions = Array.isArray(s.Action) ? s.Action : [s.Action];
      const resources = Array.isArray(s.Resource) ? s.Resource.map(render) : [render(s.Resource)];
      out.push({ actions: [...actions].sort(), resources: [...resources].sort() });
    }
  }
  return out.sort((a, b) => a.actions.join().localeCompare(b.actions.join()));
}

/** The state machine definition as JSON, with every intrinsic rendered as "<Logical.Attr>". */
export function stateMachineDefinition(props: Record<string, unknown>): StateMachineDefinition {
  return JSON.parse(render(props['DefinitionString'])) as StateMachineDefinition;
}

export interface StateDefinition {
  Type: string;
  Next?: string;
  End?: boolean;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  ResultPath?: string | null;
  Choices?: Array<Record<string, unknown> & { Next: string }>;
  Default?: string;
  Catch?: Array<{ ErrorEquals: string[]; Next: string; ResultPath?: string }>;
  Retry?: Array<{ ErrorEquals: string[]; IntervalSeconds?: number; MaxAttempts?: number; BackoffRate?: number }>;
  Seconds?: number;
  Result?: unknown;
}

export interface StateMachineDefinition {
  StartAt: string;
  States: Record<string, StateDefinition>;
}

/** Every (from → to) edge of the state machine: Next, Choices, Default and Catch. */
export function transitions(def: StateMachineDefinition): string[] {
  const edges: string[] = [];
  for (const [name, s] of Object.entries(def.States)) {
    if (s.Next) edges.push(`${name} -> ${s.Next}`);
    for (const c of s.Choices ?? []) edges.push(`${name} -[${describeChoice(c)}]-> ${c.Next}`);
    if (s.Default) edges.push(`${name} -[default]-> ${s.Default}`);
    for (const c of s.Catch ?? []) edges.push(`${name} -[catch ${c.ErrorEquals.join(',')}]-> ${c.Next}`);
  }
  return edges.sort();
}

function describeChoice(choice: Record<string, unknown>): string {
  const variable = choice['Variable'];
  const [op, value] = Object.entries(choice).find(([k]) => k !== 'Variable' && k !== 'Next')!;
  return `${String(variable)} ${op} ${JSON.stringify(value)}`;
}
