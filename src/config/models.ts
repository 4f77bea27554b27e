import { InvalidPropsError } from '../errors.ts';
/**
 * Amazon Bedrock model ids as the pipeline config names them, and what IAM must allow for each. A foundation model
 * id (`anthropic.claude-3-5-haiku-20241022-v1:0`) is invoked in the stack's region. A cross-region inference
 * profile id (`us.anthropic.claude-3-5-haiku-20241022-v1:0`) is invoked through the profile, which Bedrock routes to
 * the model in one of the geography's destination regions: IAM must allow the profile and the model in each.
 */

export type ModelRef =
  | { readonly kind: 'foundation-model'; readonly modelId: string }
  | { readonly kind: 'inference-profile'; readonly profileId: string; readonly geography: Geography; readonly modelId: string };

/**
 * Destination regions of each geography's system-defined inference profiles, as the Bedrock user guide listed
 * them for Anthropic models when this was written (2026-11). Profiles differ per model: set
 * `agents[].model.destinationRegions` to the list on your model's page to grant exactly those.
 */
export const DESTINATION_REGIONS = {
  us: ['us-east-1', 'us-east-2', 'us-west-2'],
  eu: ['eu-central-1', 'eu-north-1', 'eu-south-1', 'eu-south-2', 'eu-west-1', 'eu-west-3'],
  apac: ['ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-south-1', 'ap-south-2', 'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-4'],
  'us-gov': ['us-gov-east-1', 'us-gov-west-1'],
} as const satisfies Record<string, readonly string[]>;

export type Geography = keyof typeof DESTINATION_REGIONS;

const FOUNDATION_MODEL = /^[a-z0-9-]+\.[a-z0-9][a-z0-9.:_-]{0,120}$/;

/** Reads a model id; throws a message for the config error on anything Bedrock would not accept. */
export function parseModelId(id: string): ModelRef {
  if (id.startsWith('arn:')) throw new InvalidPropsError(`use the model or inference profile id, not an ARN ('${id}')`);
  if (id.startsWith('global.')) {
    throw new InvalidPropsError(`global inference profiles route to every commercial region and cannot be granted narrowly; use a geographic profile (us., eu., apac.) or a foundation model id`);
  }
  const geography = (Object.keys(DESTINATION_REGIONS) as Geography[])
    .sort((a, b) => b.length - a.length)
    .find((g) => id.startsWith(`${g}.`));
  const modelId = geography ? id.slice(geography.length + 1) : id;
  if (!FOUNDATION_MODEL.test(modelId)) {
    throw new InvalidPropsError(
      `'${id}' is not a Bedrock model id: expected <provider>.<model> such as 'anthropic.claude-3-5-haiku-20241022-v1:0', ` +
        `optionally behind a geographic inference profile prefix ('us.', 'eu.', 'apac.', 'us-gov.')`,
    );
  }
  return geography ? { kind: 'inference-profile', profileId: id, geography, modelId } : { kind: 'foundation-model', modelId };
}
