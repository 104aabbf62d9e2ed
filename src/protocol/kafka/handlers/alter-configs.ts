/**
 * AlterConfigs (key 33), v0-2 (v2 flexible).
 *   Request: resources [resource_type, resource_name, configs [name, value]], validate_only.
 *   Response: throttle_time_ms, responses [error_code, error_message, resource_type,
 *             resource_name].
 * Kafka's semantics: the configs given become the resource's whole set of overrides; names not
 * given go back to their defaults (IncrementalAlterConfigs changes single names). Topics only:
 * broker settings are command-line flags here and cannot change at run time.
 */
import { defineApi, type RequestContext } from "../api.js";
import { errorOf } from "../errors.js";
import { ErrorCode } from "../generated/error-codes.js";
import { AlterConfigs, type AlterConfigsRequest, type AlterConfigsResponse } from "../generated/messages.js";

const RESOURCE_TOPIC = 2;
const RESOURCE_BROKER = 4;

interface ResourceOutcome {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
}

/**
 * Checks what Kafka checks before touching anything: the resource type, duplicate resources in
 * one request and duplicate names in one resource. Returns the error outcome, or null if the
 * resource may be applied.
 */
function resourceProblem(
  r: { resourceType: number; resourceName: string; configs: readonly { name: string }[] },
  seen: ReadonlyMap<string, number>,
): ResourceOutcome | null {
  const fail = (errorCode: number, errorMessage: string): ResourceOutcome => ({
    errorCode,
    errorMessage,
    resourceType: r.resourceType,
    resourceName: r.resourceName,
  });
  if ((seen.get(`${r.resourceType}/${r.resourceName}`) ?? 0) > 1)
    return fail(
      ErrorCode.INVALID_REQUEST,
      `resource ${r.resourceName} appears more than once in the request`,
    );
  if (r.resourceType === RESOURCE_BROKER)
    return fail(
      ErrorCode.INVALID_REQUEST,
      "broker configs are set on the command line (oncedb serve --help) and cannot change at run time",
    );
  if (r.resourceType !== RESOURCE_TOPIC)
    return fail(ErrorCode.INVALID_REQUEST, `unsupported resource type ${r.resourceType}`);
  const names = new Set(r.configs.map((c) => c.name));
  if (names.size !== r.configs.length)
    return fail(ErrorCode.INVALID_REQUEST, `a config name appears more than once for ${r.resourceName}`);
  return null;
}

/** How many times each (type, name) appears in the request. */
function countResources(rs: readonly { resourceType: number; resourceName: string }[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const r of rs) {
    const k = `${r.resourceType}/${r.resourceName}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  return seen;
}

/**
 * The loop both AlterConfigs APIs share: refuse what Kafka refuses before touching anything
 * (resourceProblem), then work out each topic's changes (`changesOf` may throw an EngineError)
 * and apply them through the engine, one resource at a time.
 */
export async function alterTopics<
  R extends { resourceType: number; resourceName: string; configs: readonly { name: string }[] },
>(
  ctx: RequestContext,
  resources: readonly R[],
  opts: { replace: boolean; validateOnly: boolean },
  changesOf: (r: R) => Record<string, string | null>,
): Promise<ResourceOutcome[]> {
  const seen = countResources(resources);
  const out: ResourceOutcome[] = [];
  for (const r of resources) {
    const problem = resourceProblem(r, seen);
    if (problem) {
      out.push(problem);
      continue;
    }
    const base = { resourceType: r.resourceType, resourceName: r.resourceName };
    try {
      await ctx.engine.alterTopicConfigs(r.resourceName, changesOf(r), opts);
      out.push({ ...base, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      const e = errorOf(err);
      out.push({ ...base, errorCode: e.code, errorMessage: e.message });
    }
  }
  return out;
}

export const AlterConfigsApi = defineApi<AlterConfigsRequest, AlterConfigsResponse>({
  key: AlterConfigs.apiKey,
  name: AlterConfigs.name,
  minVersion: 0,
  maxVersion: 2,
  request: AlterConfigs.request,
  response: AlterConfigs.response,
  async handle(req, ctx) {
    const responses = await alterTopics(
      ctx,
      req.resources,
      { replace: true, validateOnly: req.validateOnly },
      (r) => Object.fromEntries(r.configs.map((c) => [c.name, c.value])),
    );
    return { throttleTimeMs: 0, responses };
  },
});
