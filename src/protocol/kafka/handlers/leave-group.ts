/**
 * LeaveGroup (key 13), v0-3.
 *   Request v0-2: group_id, member_id.  v3+: group_id, members [member_id, group_instance_id].
 *   Response: throttle_time_ms (v1+), error_code, members (v3+) [member_id, group_instance_id, error_code].
 */
import { defineApi } from "../api.js";
import { LeaveGroup, type LeaveGroupRequest, type LeaveGroupResponse } from "../generated/messages.js";

export const LeaveGroupApi = defineApi<LeaveGroupRequest, LeaveGroupResponse>({
  key: LeaveGroup.apiKey,
  name: LeaveGroup.name,
  minVersion: 0,
  maxVersion: 3,
  request: LeaveGroup.request,
  response: LeaveGroup.response,
  handle(req, ctx) {
    const members =
      ctx.apiVersion >= 3
        ? req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId }))
        : [{ memberId: req.memberId, groupInstanceId: null }];
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
