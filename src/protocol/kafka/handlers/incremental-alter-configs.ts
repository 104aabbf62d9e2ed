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
import { EngineError } from "../../../engine/errors.js";
import { TOPIC_CONFIG_DEFAULTS } from "../../../engine/topic-config.js";
import { defineApi } from "../api.js";
import {
  IncrementalAlterConfigs,
  type IncrementalAlterConfigsRequest,
  type IncrementalAlterConfigsRequestAlterableConfig,
  type IncrementalAlterConfigsResponse,
} from "../generated/messages.js";
import { alterTopics } from "./alter-configs.js";

const Op = { set: 0, delete: 1, append: 2, subtract: 3 } as const;
const LIST_CONFIGS = new Set(["cleanup.policy"]);

/** The overrides to write for one resource, given its current values (describe). */
function changesFor(
  configs: readonly IncrementalAlterConfigsRequestAlterableConfig[],
  current: (name: string) => string | undefined,
): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const c of configs) {
    switch (c.configOperation) {
      case Op.set:
        if (c.value === null) throw new EngineError("INVALID_REQUEST", `SET of ${c.name} needs a value`);
        out[c.name] = c.value;
        break;
      case Op.delete:
        out[c.name] = null;
        break;
      case Op.append:
      case Op.subtract: {
        if (c.value === null)
          throw new EngineError("INVALID_REQUEST", `APPEND/SUBTRACT of ${c.name} needs a value`);
        if (!LIST_CONFIGS.has(c.name))
          throw new EngineError("INVALID_CONFIG", `${c.name} is not a list config`);
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
        throw new EngineError(
          "INVALID_CONFIG",
          `unknown config operation ${c.configOperation} for ${c.name}`,
        );
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
    const responses = await alterTopics(
      ctx,
      req.resources,
      { replace: false, validateOnly: req.validateOnly },
      (r) => {
        // APPEND and SUBTRACT read the current value (and so find an unknown topic).
        let described: Map<string, string> | null = null;
        const current = (name: string) => {
          if (!Object.hasOwn(TOPIC_CONFIG_DEFAULTS, name)) return undefined;
          described ??= new Map(
            ctx.engine.describeTopicConfigs(r.resourceName).map((c) => [c.name, c.value]),
          );
          return described.get(name);
        };
        return changesFor(r.configs, current);
      },
    );
    return { throttleTimeMs: 0, responses };
  },
});
