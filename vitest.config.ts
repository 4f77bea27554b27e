import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Nightshift's own package name resolves to its sources here, never to the built dist/ (one copy of each class).
  resolve: { conditions: ['nightshift-source', 'node', 'import', 'default'] },
  ssr: { resolve: { conditions: ['nightshift-source', 'node', 'import', 'default'], externalConditions: ['nightshift-source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Synthesizing stacks and talking to DynamoDB Local are slow on a 2-core machine; these are hang guards, not budgets
    // (at least 4x the slowest test of its kind here, with two files running at once).
    testTimeout: 120_000,
    // Most of a test's time is spent waiting on DynamoDB Local or a CLI subprocess: two files at once on two cores.
    maxWorkers: 2,
    // Files of one worker share its module cache: aws-cdk-lib and the SDK load once per worker, not once per file
    // (a minute of the suite's CPU). Each file restores the SDK clients and environment variables it stubs.
    isolate: false,
    hookTimeout: 120_000,
    env: {
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  },
});
