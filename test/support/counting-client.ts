import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The same client, recording the command name of every call it sends: for tests that count store round trips. */
export function countingClient(client: DynamoDBDocumentClient) {
  const calls: string[] = [];
  const counted = new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'send') {
        return (command: { constructor: { name: string } }, ...rest: unknown[]) => {
          calls.push(command.constructor.name);
          return (target.send as (...args: unknown[]) => unknown)(command, ...rest);
        };
      }
      return Reflect.get(target, property, receiver);
    },
  });
  return { client: counted, calls };
}
