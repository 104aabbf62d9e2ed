/**
 * Heartbeat (key 12), v0-4 (v4+ flexible).
 *   Request: group_id, generation_id, member_id, group_instance_id (v3+).
 *   Response: throttle_time_ms (v1+), error_code (REBALANCE_IN_PROGRESS tells the member to rejoin).
 */
import { defineApi } from "../api.js";
import { Heartbeat, type HeartbeatRequest, type HeartbeatResponse } from "../generated/messages.js";

export const HeartbeatApi = defineApi<HeartbeatRequest, HeartbeatResponse>({
  key: Heartbeat.apiKey,
  name: Heartbeat.name,
  minVersion: 0,
  maxVersion: 4,
  request: Heartbeat.request,
  response: Heartbeat.response,
  handle(req, ctx) {
    const r = ctx.engine.groups.heartbeat({
      groupId: req.groupId,
      generationId: req.generationId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
    });
    return { throttleTimeMs: 0, errorCode: r.errorCode };
  },
});
