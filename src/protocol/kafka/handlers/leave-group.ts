/**
 * LeaveGroup (key 13), v0-5 (v4+ flexible).
 *   Request v0-2: group_id, member_id.  v3+: group_id, members [member_id, group_instance_id,
 *                 reason (v5+)].
 *   Response: throttle_time_ms (v1+), error_code, members (v3+) [member_id, group_instance_id, error_code].
 * The v5 per-member reason (KIP-800) is only logged (debug): it does not change what the coordinator does.
 */
import { defineApi } from "../api.js";
import { LeaveGroup, type LeaveGroupRequest, type LeaveGroupResponse } from "../generated/messages.js";

export const LeaveGroupApi = defineApi<LeaveGroupRequest, LeaveGroupResponse>({
  key: LeaveGroup.apiKey,
  name: LeaveGroup.name,
  minVersion: 0,
  maxVersion: 5,
  request: LeaveGroup.request,
  response: LeaveGroup.response,
  handle(req, ctx) {
    const members =
      ctx.apiVersion >= 3
        ? req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId }))
        : [{ memberId: req.memberId, groupInstanceId: null }];
    if (ctx.apiVersion >= 5) {
      for (const m of req.members) {
        if (m.reason === null) continue;
        ctx.engine.logger?.debug(
          {
            groupId: req.groupId,
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            reason: m.reason,
          },
          "leave group",
        );
      }
    }
    const r = ctx.engine.groups.leave({ groupId: req.groupId, members });
    const firstMemberError = r.members[0]?.errorCode ?? 0;
    return {
      throttleTimeMs: 0,
      // Before v3 the only error slot is the top-level one, so a member error goes there.
      errorCode: ctx.apiVersion >= 3 ? r.errorCode : r.errorCode || firstMemberError,
      members: r.members,
    };
  },
});
