/**
 * JoinGroup (key 11), v0-9 (v6+ flexible).
 *   Request: group_id, session_timeout_ms, rebalance_timeout_ms (v1+), member_id,
 *            group_instance_id (v5+), protocol_type, protocols [name, metadata], reason (v8+).
 *   Response: throttle_time_ms (v2+), error_code, generation_id, protocol_type (v7+, nullable),
 *             protocol_name (nullable v7+), leader, skip_assignment (v9+), member_id,
 *             members [member_id, group_instance_id (v5+), metadata].
 * v4+ clients must first obtain a member id (MEMBER_ID_REQUIRED, KIP-394).
 * skip_assignment is always false: we do not implement KIP-814. A static leader that rejoins a
 * Stable group is told the old leader id instead (Kafka's pre-v9 behaviour), so it syncs as a
 * follower and keeps its assignment; v9 clients handle that answer like older ones.
 */
import { defineApi } from "../api.js";
import { JoinGroup, type JoinGroupRequest, type JoinGroupResponse } from "../generated/messages.js";

export const JoinGroupApi = defineApi<JoinGroupRequest, JoinGroupResponse>({
  key: JoinGroup.apiKey,
  name: JoinGroup.name,
  minVersion: 0,
  maxVersion: 9,
  request: JoinGroup.request,
  response: JoinGroup.response,
  async handle(req, ctx) {
    if (req.reason !== null) {
      // KIP-800: the reason is only for the operator; it does not change what the coordinator does.
      ctx.engine.logger?.debug(
        { groupId: req.groupId, memberId: req.memberId, reason: req.reason },
        "join group",
      );
    }
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
      protocolType: r.protocolType,
      // Null (no protocol selected, e.g. on error) only exists from v7; before that Kafka sends "".
      protocolName: ctx.apiVersion >= 7 ? r.protocolName : (r.protocolName ?? ""),
      leader: r.leader,
      skipAssignment: false,
      memberId: r.memberId,
      members: r.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        metadata: m.metadata,
      })),
    };
  },
});
