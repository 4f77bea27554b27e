import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../local/dynamodb-local.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    /** Where the reference runs of this `vitest run` are written (`reference-runs.ts`): shared by every file, never reused. */
    referenceRunsDir: string;
  }
}

/** One DynamoDB Local for the whole run; each test file creates its own prefixed tables in it. */
export default async function setup(project: TestProject) {
  const dynamo = await startDynamoDbLocal();
  const runsDir = mkdtempSync(join(tmpdir(), 'nightshift-reference-runs-'));
  project.provide('dynamoEndpoint', dynamo.endpoint);
  project.provide('referenceRunsDir', runsDir);
  return async () => {
    await dynamo.stop();
    rmSync(runsDir, { recursive: true, force: true });
  };
}
