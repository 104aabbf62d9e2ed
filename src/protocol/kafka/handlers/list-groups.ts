/**
 * ListGroups (key 16), v0-5 (v3+ flexible).
 *   Request: states_filter (v4+), types_filter (v5+).
 *   Response: throttle_time_ms (v1+), error_code, groups [group_id, protocol_type,
 *             group_state (v4+), group_type (v5+)].
 * Groups that only have committed offsets (no live members) are listed as Empty consumer
 * groups, as Kafka does after a restart. Filters match case-insensitively, as Kafka's current
 * group coordinator does (the pre-3.7 one compared states exactly); an empty filter matches
 * everything. Every group here is a "classic" one (we do not implement KIP-848 consumer
 * groups), so a types filter without "classic" lists none.
 */
import { defineApi } from "../api.js";
import { ErrorCode } from "../generated/error-codes.js";
import { ListGroups, type ListGroupsRequest, type ListGroupsResponse } from "../generated/messages.js";

const CLASSIC = "classic";

export const ListGroupsApi = defineApi<ListGroupsRequest, ListGroupsResponse>({
  key: ListGroups.apiKey,
  name: ListGroups.name,
  minVersion: 0,
  maxVersion: 5,
  request: ListGroups.request,
  response: ListGroups.response,
  handle(req, ctx) {
    // The decoder fills [] for filters the version does not have, so older versions list everything.
    const states = new Set(req.statesFilter.map((s) => s.toLowerCase()));
    const types = new Set(req.typesFilter.map((t) => t.toLowerCase()));
    if (types.size > 0 && !types.has(CLASSIC))
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups: [] };
    const live = ctx.engine.groups.list();
    const names = new Set(live.map((g) => g.groupId));
    const all = live.map((g) => ({
      groupId: g.groupId,
      protocolType: g.protocolType,
      groupState: g.state as string,
      groupType: CLASSIC,
    }));
    for (const g of ctx.engine.groupsWithOffsets()) {
      if (!names.has(g))
        all.push({ groupId: g, protocolType: "consumer", groupState: "Empty", groupType: CLASSIC });
    }
    const groups = states.size === 0 ? all : all.filter((g) => states.has(g.groupState.toLowerCase()));
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups };
  },
});
