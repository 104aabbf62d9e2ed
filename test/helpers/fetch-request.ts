/** Fetch request bodies (v11, or v13 with `topicId`) for tests that speak the protocol directly (RawKafka). */
import type { FetchRequest } from "../../src/protocol/kafka/generated/messages.js";

/** One partition from `fetchOffset`; a long poll when maxWaitMs and minBytes say so. */
export function fetchBody(
  topic: string,
  partition: number,
  fetchOffset: number,
  opts: { maxWaitMs?: number; minBytes?: number; maxBytes?: number; topicId?: string } = {},
): FetchRequest {
  const noUuid = "AAAAAAAAAAAAAAAAAAAAAA";
  const maxBytes = opts.maxBytes ?? 1 << 20;
  return {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1 },
    maxWaitMs: opts.maxWaitMs ?? 0,
    minBytes: opts.minBytes ?? 0,
    maxBytes,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        topicId: opts.topicId ?? noUuid,
        partitions: [
          {
            partition,
            currentLeaderEpoch: -1,
            fetchOffset,
            lastFetchedEpoch: -1,
            logStartOffset: -1,
            partitionMaxBytes: maxBytes,
            replicaDirectoryId: noUuid,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: "",
  };
}
