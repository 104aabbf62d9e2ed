/**
 * IncrementalAlterConfigs (key 44), v0-1 (v1 flexible).
 *   Request: resources [resource_type, resource_name, configs [name, config_operation, value]],
 *            validate_only.
 *   Response: throttle_time_ms, responses [error_code, error_message, resource_type,
 *             resource_name].
 * Operations: SET (0) and DELETE (1, back to the default) for any topic config; APPEND (2) and
 * SUBTRACT (3) only for list configs (of the topic configs here: cleanup.policy), as in Kafka.
 * Names not mentioned keep their values. Topics only, as AlterConfigs.
 */
import { TOPIC_CONFIG_DEFAULTS } from "../../../engine/topic-config.js";
import { defineApi } from "../api.js";
import { errorOf } from "../errors.js";
import { ErrorCode } from "../generated/error-codes.js";
import {
  IncrementalAlterConfigs,
  type IncrementalAlterConfigsRequest,
  type IncrementalAlterConfigsRequestAlterableConfig,
  type IncrementalAlterConfigsResponse,
} from "../generated/messages.js";
import { applyTopicChange, countResources, type ResourceOutcome, resourceProblem } from "./alter-configs.js";

const Op = { set: 0, delete: 1, append: 2, subtract: 3 } as const;
const LIST_CONFIGS = new Set(["cleanup.policy"]);

class BadOperation extends Error {
  constructor(
    message: string,
    readonly code: number = ErrorCode.INVALID_CONFIG,
  ) {
    super(message);
  }
}

/** The overrides to write for one resource, given its current values (describe). */
function changesFor(
  configs: readonly IncrementalAlterConfigsRequestAlterableConfig[],
  current: (name: string) => string | undefined,
): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const c of configs) {
    switch (c.configOperation) {
      case Op.set:
        if (c.value === null)
          throw new BadOperation(`SET of ${c.name} needs a value`, ErrorCode.INVALID_REQUEST);
        out[c.name] = c.value;
        break;
      case Op.delete:
        out[c.name] = null;
        break;
      case Op.append:
      case Op.subtract: {
        if (c.value === null)
          throw new BadOperation(`APPEND/SUBTRACT of ${c.name} needs a value`, ErrorCode.INVALID_REQUEST);
        if (!LIST_CONFIGS.has(c.name)) throw new BadOperation(`${c.name} is not a list config`);
        const list = (current(c.name) ?? "").split(",").filter((v) => v !== "");
        const given = c.value.split(",").filter((v) => v !== "");
        const next =
          c.configOperation === Op.append
            ? [...list, ...given.filter((v) => !list.includes(v))]
            : list.filter((v) => !given.includes(v));
        out[c.name] = next.join(",");
        break;
      }
      default:
        throw new BadOperation(`unknown config operation ${c.configOperation} for ${c.name}`);
    }
  }
  return out;
}

export const IncrementalAlterConfigsApi = defineApi<
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponse
>({
  key: IncrementalAlterConfigs.apiKey,
  name: IncrementalAlterConfigs.name,
  minVersion: 0,
  maxVersion: 1,
  request: IncrementalAlterConfigs.request,
  response: IncrementalAlterConfigs.response,
  async handle(req, ctx) {
    const seen = countResources(req.resources);
    const responses: ResourceOutcome[] = [];
    for (const r of req.resources) {
      const problem = resourceProblem(r, seen);
      if (problem) {
        responses.push(problem);
        continue;
      }
      let changes: Record<string, string | null>;
      try {
        const described = new Map<string, string>();
        const current = (name: string) => {
          if (!Object.hasOwn(TOPIC_CONFIG_DEFAULTS, name)) return undefined;
          if (described.size === 0)
            for (const c of ctx.engine.describeTopicConfigs(r.resourceName)) described.set(c.name, c.value);
          return described.get(name);
        };
        changes = changesFor(r.configs, current);
      } catch (err) {
        // A bad operation, or (APPEND/SUBTRACT read the current value) an unknown topic.
        const e = err instanceof BadOperation ? { code: err.code, message: err.message } : errorOf(err);
        responses.push({
          errorCode: e.code,
          errorMessage: e.message,
          resourceType: r.resourceType,
          resourceName: r.resourceName,
        });
        continue;
      }
      responses.push(
        await applyTopicChange(ctx, r, () => changes, { replace: false, validateOnly: req.validateOnly }),
      );
    }
    return { throttleTimeMs: 0, responses };
  },
});
