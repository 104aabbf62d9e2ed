/**
 * SyncGroup (key 14), v0-5 (v4+ flexible).
 *   Request: group_id, generation_id, member_id, group_instance_id (v3+),
 *            protocol_type (v5+), protocol_name (v5+),
 *            assignments [member_id, assignment] (from the leader only).
 *   Response: throttle_time_ms (v1+), error_code, protocol_type (v5+), protocol_name (v5+), assignment.
 * v5 (KIP-559): a protocol type or name that is given (non-null) and differs from the group's is
 * INCONSISTENT_GROUP_PROTOCOL; the response echoes the group's type and name (null on error).
 */
import { defineApi } from "../api.js";
import { SyncGroup, type SyncGroupRequest, type SyncGroupResponse } from "../generated/messages.js";

export const SyncGroupApi = defineApi<SyncGroupRequest, SyncGroupResponse>({
  key: SyncGroup.apiKey,
  name: SyncGroup.name,
  minVersion: 0,
  maxVersion: 5,
  request: SyncGroup.request,
  response: SyncGroup.response,
  async handle(req, ctx) {
    const r = await ctx.engine.groups.sync({
      groupId: req.groupId,
      generationId: req.generationId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
      assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
      // The decoder fills null below v5, which the coordinator reads as "not given".
      protocolType: req.protocolType,
      protocolName: req.protocolName,
    });
    return {
      throttleTimeMs: 0,
      errorCode: r.errorCode,
      protocolType: r.protocolType,
      protocolName: r.protocolName,
      assignment: r.assignment,
    };
  },
});
