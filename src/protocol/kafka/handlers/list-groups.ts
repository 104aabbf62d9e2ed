/**
 * ListGroups (key 16), v0-3 (v3 flexible).
 *   Request: (v4+ states_filter; not offered).
 *   Response: throttle_time_ms (v1+), error_code, groups [group_id, protocol_type].
 * Groups that only have committed offsets (no live members) are listed as Empty consumer
 * groups, as Kafka does after a restart.
 */
import { defineApi } from "../api.js";
import { ErrorCode } from "../generated/error-codes.js";
import { ListGroups, type ListGroupsRequest, type ListGroupsResponse } from "../generated/messages.js";

export const ListGroupsApi = defineApi<ListGroupsRequest, ListGroupsResponse>({
  key: ListGroups.apiKey,
  name: ListGroups.name,
  minVersion: 0,
  maxVersion: 3,
  request: ListGroups.request,
  response: ListGroups.response,
  handle(_req, ctx) {
    const live = ctx.engine.groups.list();
    const names = new Set(live.map((g) => g.groupId));
    const groups = live.map((g) => ({
      groupId: g.groupId,
      protocolType: g.protocolType,
      groupState: g.state,
    }));
    for (const g of ctx.engine.groupsWithOffsets()) {
      if (!names.has(g)) groups.push({ groupId: g, protocolType: "consumer", groupState: "Empty" });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups };
  },
});
