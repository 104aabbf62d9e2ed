/**
 * SyncGroup (key 14), v0-3.
 *   Request: group_id, generation_id, member_id, group_instance_id (v3+),
 *            assignments [member_id, assignment] (from the leader only).
 *   Response: throttle_time_ms (v1+), error_code, assignment.
 */
import { defineApi } from "../api.js";
import { SyncGroup, type SyncGroupRequest, type SyncGroupResponse } from "../generated/messages.js";

export const SyncGroupApi = defineApi<SyncGroupRequest, SyncGroupResponse>({
  key: SyncGroup.apiKey,
  name: SyncGroup.name,
  minVersion: 0,
  maxVersion: 3,
  request: SyncGroup.request,
  response: SyncGroup.response,
  async handle(req, ctx) {
    const r = await ctx.engine.groups.sync({
      groupId: req.groupId,
      generationId: req.generationId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
      assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
    });
    return { throttleTimeMs: 0, errorCode: r.errorCode, assignment: r.assignment };
  },
});
