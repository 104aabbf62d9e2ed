/**
 * DescribeGroups (key 15), v0-5 (v5 flexible).
 *   Request: groups, include_authorized_operations (v3+).
 *   Response: throttle_time_ms (v1+), groups [error_code, group_id, group_state, protocol_type,
 *             protocol_data, members [member_id, group_instance_id (v4+), client_id,
 *             client_host, member_metadata, member_assignment], authorized_operations (v3+)].
 */
import { defineApi } from "../api.js";
import {
  DescribeGroups,
  type DescribeGroupsRequest,
  type DescribeGroupsResponse,
} from "../generated/messages.js";

export const DescribeGroupsApi = defineApi<DescribeGroupsRequest, DescribeGroupsResponse>({
  key: DescribeGroups.apiKey,
  name: DescribeGroups.name,
  minVersion: 0,
  maxVersion: 5,
  request: DescribeGroups.request,
  response: DescribeGroups.response,
  handle(req, ctx) {
    return {
      throttleTimeMs: 0,
      groups: req.groups.map((g) => {
        const d = ctx.engine.groups.describe(g);
        return {
          errorCode: d.errorCode,
          groupId: d.groupId,
          groupState: d.state,
          protocolType: d.protocolType,
          protocolData: d.protocolData,
          members: d.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            memberMetadata: m.metadata,
            memberAssignment: m.assignment,
          })),
          authorizedOperations: -2147483648,
        };
      }),
    };
  },
});
