/**
 * FindCoordinator (key 10), v0-4 (v3+ flexible).
 *   Request: key (v0-3), key_type (v1+: 0 group, 1 transaction), coordinator_keys (v4+, batched, KIP-699).
 *   Response v0-3: throttle_time_ms (v1+), error_code, error_message (v1+), node_id, host, port.
 *   Response v4+: throttle_time_ms, coordinators [key, node_id, host, port, error_code, error_message],
 *                 one per requested key, in request order.
 * A single node coordinates every group and transaction. An unknown key type is INVALID_REQUEST
 * (for every key of a v4 batch: the key type is shared by the whole request).
 */
import { defineApi } from "../api.js";
import { ErrorCode } from "../generated/error-codes.js";
import {
  FindCoordinator,
  type FindCoordinatorRequest,
  type FindCoordinatorResponse,
} from "../generated/messages.js";

/**
 * Keys in one v4+ request. Clients look up the few groups and transactional ids they use;
 * the bound keeps a request of tiny keys from making an answer twenty times its size.
 */
export const FIND_COORDINATOR_KEYS_PER_REQUEST_MAX = 10_000;

export const FindCoordinatorApi = defineApi<FindCoordinatorRequest, FindCoordinatorResponse>({
  key: FindCoordinator.apiKey,
  name: FindCoordinator.name,
  minVersion: 0,
  maxVersion: 4,
  request: FindCoordinator.request,
  response: FindCoordinator.response,
  handle(req, ctx) {
    const { broker } = ctx;
    const known = req.keyType === 0 || req.keyType === 1;
    // Kafka answers Node.noNode() (-1, "", -1) next to an error.
    const coordinator = known
      ? {
          nodeId: broker.nodeId,
          host: broker.host,
          port: broker.port,
          errorCode: ErrorCode.NONE,
          errorMessage: null,
        }
      : {
          nodeId: -1,
          host: "",
          port: -1,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: `unknown key type ${req.keyType}`,
        };
    if (ctx.apiVersion >= 4) {
      if (req.coordinatorKeys.length > FIND_COORDINATOR_KEYS_PER_REQUEST_MAX) {
        // One entry, not one per key: each 1-byte key would otherwise cost a ~23-byte entry.
        return {
          throttleTimeMs: 0,
          coordinators: [
            {
              key: "",
              nodeId: -1,
              host: "",
              port: -1,
              errorCode: ErrorCode.INVALID_REQUEST,
              errorMessage: `at most ${FIND_COORDINATOR_KEYS_PER_REQUEST_MAX} keys per request`,
            },
          ],
        };
      }
      return {
        throttleTimeMs: 0,
        coordinators: req.coordinatorKeys.map((key) => ({ key, ...coordinator })),
      };
    }
    return { throttleTimeMs: 0, ...coordinator };
  },
});
