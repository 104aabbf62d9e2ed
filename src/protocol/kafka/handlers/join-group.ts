/**
 * JoinGroup (key 11), v0-5.
 *   Request: group_id, session_timeout_ms, rebalance_timeout_ms (v1+), member_id,
 *            group_instance_id (v5+), protocol_type, protocols [name, metadata].
 *   Response: throttle_time_ms (v2+), error_code, generation_id, protocol_name, leader,
 *             member_id, members [member_id, group_instance_id (v5+), metadata].
 * v4+ clients must first obtain a member id (MEMBER_ID_REQUIRED, KIP-394).
 */
import { defineApi } from "../api.js";
import { JoinGroup, type JoinGroupRequest, type JoinGroupResponse } from "../generated/messages.js";

export const JoinGroupApi = defineApi<JoinGroupRequest, JoinGroupResponse>({
  key: JoinGroup.apiKey,
  name: JoinGroup.name,
  minVersion: 0,
  maxVersion: 5,
  request: JoinGroup.request,
  response: JoinGroup.response,
  async handle(req, ctx) {
    const r = await ctx.engine.groups.join({
      groupId: req.groupId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: ctx.clientId ?? "",
      clientHost: ctx.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: ctx.apiVersion >= 1 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
      requireKnownMemberId: ctx.apiVersion >= 4,
    });
    return {
      throttleTimeMs: 0,
      errorCode: r.errorCode,
      generationId: r.generationId,
      protocolName: r.protocolName ?? "",
      leader: r.leader,
      memberId: r.memberId,
      members: r.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        metadata: m.metadata,
      })),
    };
  },
});
