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
  /** The pipeline's event bus, when an agent has triggers: where `nightshift send-event --stage` puts events. */
  eventBusName: 'EventBusName',
  /** The approval page (the approval function's URL), when an agent has a review policy. */
  approvalPageUrl: 'ApprovalPageUrl',
} as const;

export type StackOutputKey = keyof typeof STACK_OUTPUT;

/**
 * The key of a pipeline's output in its stack: `STACK_OUTPUT[key]` in a `NightshiftStack`, prefixed by the
 * pipeline's name and stage (`NewsroomDev…`) when the pipeline shares a stack with others (`NightshiftPipeline`).
 */
export function outputKey(key: StackOutputKey, pipeline?: { readonly name: string; readonly stage: string }): string {
  if (!pipeline) return STACK_OUTPUT[key];
  const pascal = (text: string) => text.split(/[^A-Za-z0-9]+/).map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('');
  return `${pascal(pipeline.name)}${pascal(pipeline.stage)}${STACK_OUTPUT[key]}`;
}

/** The stack a pipeline deploys as. */
export function stackName(pipeline: string, stage: string): string {
  return `${pipeline}-${stage}`;
}
