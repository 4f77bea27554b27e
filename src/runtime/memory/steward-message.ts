/** What the steward takes (one queue message) and what becomes of it. */

/** One queue message, as the steward needs it (the Lambda adapter builds it from an SQS record). */
export interface StewardMessage {
  readonly messageId: string;
  readonly body: string;
  readonly messageGroupId: string;
  readonly sequenceNumber: string;
  /** Epoch ms the message was first sent. */
  readonly sentAt: number;
  readonly receiveCount: number;
  /**
   * Set by redrive: the sequence number the update had before it was dead-lettered. A message attribute, so anyone
   * who can send can set it: trusted only on a message whose `senderId` is the redriver's.
   */
  readonly originalSequenceNumber?: string;
  /** SQS's `SenderId`: the IAM identity that sent it (`<role id>:<session>` for an assumed role). */
  readonly senderId?: string;
  /** Set by redrive: the `SenderId` of the agent that first sent it. Trusted only from the redriver, as above. */
  readonly originalSenderId?: string;
}

export type RejectionReason =
  | 'unparseable'
  | 'invalid-update'
  | 'wrong-message-group'
  | 'stale-fencing-token'
  | 'type-mismatch'
  | 'superseded'
  | 'too-large'
  | 'invalid-item'
  | 'unknown-sender'
  | 'impersonation'
  | 'namespace-not-writable'
  | 'pin-not-allowed'
  | 'foreign-task'
  | 'over-quota';

export type StewardResult =
  | { readonly outcome: 'applied'; readonly namespace: string; readonly key: string; readonly sequence: string }
  | { readonly outcome: 'duplicate'; readonly namespace: string; readonly key: string }
  | { readonly outcome: 'rejected'; readonly reason: RejectionReason; readonly detail: string };
