/**
 * ApiVersions (key 18), v0-3.
 *   Request v3+: client_software_name, client_software_version (flexible, header v2).
 *   Response: error_code, [api_key, min_version, max_version], throttle_time_ms (v1+).
 * The response header is always v0, even for flexible versions, so that a client can read it
 * before it knows what we support. An unsupported request version gets UNSUPPORTED_VERSION
 * with our ranges in a v0 body: that is how kafkajs and librdkafka negotiate.
 */
import { defineApi, type KafkaApi } from "../api.js";
import { ErrorCode } from "../generated/error-codes.js";
import { ApiVersions, type ApiVersionsRequest, type ApiVersionsResponse } from "../generated/messages.js";

function ranges(apis: ReadonlyMap<number, KafkaApi>) {
  return [...apis.values()]
    .sort((a, b) => a.key - b.key)
    .map((a) => ({ apiKey: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion }));
}

export function unsupportedVersionResponse(apis: ReadonlyMap<number, KafkaApi>): ApiVersionsResponse {
  return { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: ranges(apis) };
}

/** Filled in by api-table.ts once every API is defined (the table lists this API too). */
export const advertised: { apis: ReadonlyMap<number, KafkaApi> } = { apis: new Map() };

export const ApiVersionsApi = defineApi<ApiVersionsRequest, ApiVersionsResponse>({
  key: ApiVersions.apiKey,
  name: ApiVersions.name,
  minVersion: 0,
  maxVersion: 3,
  request: ApiVersions.request,
  response: ApiVersions.response,
  handle: () => ({ errorCode: ErrorCode.NONE, apiKeys: ranges(advertised.apis), throttleTimeMs: 0 }),
});
