/**
 * Kafka protocol error codes the group coordinator can answer with. The numbers are Kafka's own
 * (org.apache.kafka.common.protocol.Errors) so the Kafka adapter passes them through unchanged.
 */
export const GroupError = {
  NONE: 0,
  UNKNOWN_MEMBER_ID: 25,
  ILLEGAL_GENERATION: 22,
  REBALANCE_IN_PROGRESS: 27,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  INVALID_SESSION_TIMEOUT: 26,
  MEMBER_ID_REQUIRED: 79,
  GROUP_ID_NOT_FOUND: 69,
  NON_EMPTY_GROUP: 68,
  INVALID_GROUP_ID: 24,
  UNKNOWN_SERVER_ERROR: -1,
  COORDINATOR_NOT_AVAILABLE: 15,
  GROUP_MAX_SIZE_REACHED: 81,
  FENCED_INSTANCE_ID: 82,
} as const;

export type GroupErrorCode = (typeof GroupError)[keyof typeof GroupError];

/** The Kafka error name of a GroupError code (the engine reports errors by name). */
export function groupErrorName(code: number): string {
  for (const [name, value] of Object.entries(GroupError)) if (value === code) return name;
  return "UNKNOWN_SERVER_ERROR";
}
