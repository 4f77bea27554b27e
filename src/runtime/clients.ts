import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** How to reach AWS: the SDK's defaults in Lambda; local endpoints and credentials locally. */
export interface Endpoints {
  readonly dynamodb?: string;
  readonly sqs?: string;
  /** @default - the SDK's (AWS_REGION in Lambda) */
  readonly region?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** Wraps each SDK client made: X-Ray capture in Lambda, the call recorder and usage meter locally. */
export type Instrument = <T>(client: T) => T;

/** An SDK client's config for one service's endpoint. */
export function clientConfig(endpoints: Endpoints | undefined, endpoint: string | undefined) {
  const { region, credentials } = endpoints ?? {};
  return { ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}), ...(credentials ? { credentials } : {}) };
}

/**
 * The one DynamoDB document client configuration every part uses (undefined attributes dropped, so optional fields
 * never reach the marshaller): the `Wiring` builds its parts on it, and the steward's handler its steward.
 */
export function documentClient(endpoints?: Endpoints, instrument?: Instrument): DynamoDBDocumentClient {
  const raw = new DynamoDBClient(clientConfig(endpoints, endpoints?.dynamodb));
  return DynamoDBDocumentClient.from(instrument ? instrument(raw) : raw, { marshallOptions: { removeUndefinedValues: true } });
}
