/**
 * DeleteGroups (key 42), v0-2 (v2 flexible).
 *   Request: groups_names.   Response: throttle_time_ms, results [group_id, error_code].
 * Only groups without live members can be deleted; their committed offsets go with them.
 */
import { defineApi } from "../api.js";
import { errorOf } from "../errors.js";
import { ErrorCode } from "../generated/error-codes.js";
import { DeleteGroups, type DeleteGroupsRequest, type DeleteGroupsResponse } from "../generated/messages.js";

export const DeleteGroupsApi = defineApi<DeleteGroupsRequest, DeleteGroupsResponse>({
  key: DeleteGroups.apiKey,
  name: DeleteGroups.name,
  minVersion: 0,
  maxVersion: 2,
  request: DeleteGroups.request,
  response: DeleteGroups.response,
  async handle(req, ctx) {
    const { engine } = ctx;
    const results = await Promise.all(
      req.groupsNames.map(async (groupId) => {
        const errorCode = engine.groups.delete(groupId, engine.groupHasOffsets(groupId));
        if (errorCode !== ErrorCode.NONE) return { groupId, errorCode };
        try {
          await engine.deleteGroupOffsets(groupId);
          return { groupId, errorCode: ErrorCode.NONE };
        } catch (err) {
          return { groupId, errorCode: errorOf(err).code };
        }
      }),
    );
    return { throttleTimeMs: 0, results };
  },
});
