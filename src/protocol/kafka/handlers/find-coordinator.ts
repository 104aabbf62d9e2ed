/**
 * FindCoordinator (key 10), v0-3.
 *   Request: key, key_type (v1+: 0 group, 1 transaction).
 *   Response: throttle_time_ms (v1+), error_code, error_message (v1+), node_id, host, port.
 * A single node coordinates every group and transaction.
 */
import { defineApi } from "../api.js";
import { ErrorCode } from "../generated/error-codes.js";
import {
  FindCoordinator,
  type FindCoordinatorRequest,
  type FindCoordinatorResponse,
} from "../generated/messages.js";

export const FindCoordinatorApi = defineApi<FindCoordinatorRequest, FindCoordinatorResponse>({
  key: FindCoordinator.apiKey,
  name: FindCoordinator.name,
  minVersion: 0,
  maxVersion: 3,
  request: FindCoordinator.request,
  response: FindCoordinator.response,
  handle(req, ctx) {
    const { broker } = ctx;
    if (req.keyType !== 0 && req.keyType !== 1) {
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: `unknown key type ${req.keyType}`,
        nodeId: -1,
        host: "",
        port: -1,
      };
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      nodeId: broker.nodeId,
      host: broker.host,
      port: broker.port,
    };
  },
});
