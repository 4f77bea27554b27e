/**
 * The stack's outputs: what the ops CLI finds a deployed pipeline by (`DescribeStacks` on `<pipeline>-<stage>`).
 * The stack writes each key here; the CLI reads the same key.
 */
export const STACK_OUTPUT = {
  coordinationTable: 'CoordinationTableName',
  memoryTable: 'MemoryTableName',
  memoryQueueUrl: 'MemoryQueueUrl',
  memoryDeadLetterQueueUrl: 'MemoryDeadLetterQueueUrl',
  counterTable: 'CounterTableName',
  alertTopicArn: 'AlertTopicArn',
  scheduleGroup: 'ScheduleGroupName',
  /** JSON: agent id → function name, for `nightshift invoke --stage`. */
  agentFunctionNames: 'AgentFunctionNames',
  /** The function `nightshift dlq redrive --stage` invokes. */
  redriveFunction: 'RedriveFunctionName',
} as const;

export type StackOutputKey = keyof typeof STACK_OUTPUT;

/** The stack a pipeline deploys as. */
export function stackName(pipeline: string, stage: string): string {
  return `${pipeline}-${stage}`;
}
