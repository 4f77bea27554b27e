import { readFileSync } from 'node:fs';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';

/** The context `cdk synth` passes the app: cdk.json's feature flags, so tests see the template that deploys. */
export const cdkJsonContext: Record<string, unknown> = JSON.parse(readFileSync('cdk.json', 'utf8')).context;

/** An app with the project's feature flags that skips asset bundling: construct tests check the template only. */
export function testApp(): App {
  return new App({ context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] } });
}

export function testStack(): Stack {
  return new Stack(testApp(), 'Test');
}

export function logicalId(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  // Resolved, so an id kept with overrideLogicalId is the one returned.
  return Stack.of(construct).resolve(element.logicalId) as string;
}

/** Every IAM action the role may perform on the resource with the given logical id (as granted by its policies). */
export function actionsGranted(template: Template, roleLogicalId: string, resourceLogicalId: string): string[] {
  const actions = new Set<string>();
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    const roles: unknown[] = policy.Properties.Roles ?? [];
    if (!roles.some((role) => JSON.stringify(role) === JSON.stringify({ Ref: roleLogicalId }))) continue;
    for (const statement of policy.Properties.PolicyDocument.Statement) {
      if (statement.Effect !== 'Allow') continue;
      const resources: unknown[] = [statement.Resource].flat();
      if (!resources.some((r) => JSON.stringify(r).includes(`"${resourceLogicalId}"`))) continue;
      for (const action of [statement.Action].flat()) actions.add(action);
    }
  }
  return [...actions].sort();
}
