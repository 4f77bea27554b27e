import {
  type IPolicyValidationContext,
  type IPolicyValidationPlugin,
  type PolicyValidationPluginReport,
  type PolicyViolation,
  Stage,
  Validations,
} from 'aws-cdk-lib';
import { AwsSolutionsChecks, type NagPack, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag's AwsSolutions and Serverless packs over the constructs Nightshift made, and nothing else of the app: a
 * user's own resources are theirs to check (or not). Findings fail the synth and show in its validation report,
 * naming the rule and the construct path; Nightshift's own acknowledgements (`Validations.of(x).acknowledge`, each
 * with its reason) are honoured, and so are the user's.
 *
 * One plugin per pack and stage, however many pipelines the stage holds.
 */
export function checkWithCdkNag(scope: IConstruct): void {
  const stage = Stage.of(scope);
  if (!stage) return; // a construct outside any app (a bare test tree) has no synth to check
  let plugins = REGISTERED.get(stage);
  if (!plugins) {
    plugins = [new ScopedPack(new AwsSolutionsChecks()), new ScopedPack(new ServerlessChecks())];
    REGISTERED.set(stage, plugins);
    Validations.of(stage).addPlugins(...plugins);
  }
  for (const plugin of plugins) plugin.scopes.push(scope);
}

const REGISTERED = new WeakMap<Stage, ScopedPack[]>();

/** A cdk-nag pack that walks the given subtrees instead of the whole app. */
class ScopedPack implements IPolicyValidationPlugin {
  readonly name: string;
  readonly version?: string;
  readonly ruleIds?: string[];
  readonly scopes: IConstruct[] = [];

  constructor(private readonly pack: NagPack) {
    this.name = pack.name;
    if (pack.version !== undefined) this.version = pack.version;
    if (pack.ruleIds !== undefined) this.ruleIds = pack.ruleIds;
  }

  validate(_context: IPolicyValidationContext): PolicyValidationPluginReport {
    const byRule = new Map<string, PolicyViolation>();
    for (const scope of this.scopes) {
      for (const violation of this.pack.validateScope(scope).violations) {
        const seen = byRule.get(violation.ruleName);
        if (seen) byRule.set(violation.ruleName, { ...seen, violatingResources: [...seen.violatingResources, ...violation.violatingResources] });
        else byRule.set(violation.ruleName, violation);
      }
    }
    const violations = [...byRule.values()];
    return { success: violations.length === 0, violations };
  }
}
