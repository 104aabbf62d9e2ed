/** Liveness after healing, and server crashes that no injected fault explains. */
import type { HistoryEvent } from "../history.js";
import type { Anomalies, FinalState } from "./types.js";

export function checkLiveness(final: FinalState, out: Anomalies): void {
  const l = final.liveness;
  if (!l.caughtUp)
    out.add("liveness", `copiers did not copy the whole input within ${l.boundMs} ms of healing`, {
      ...l,
      groupOffsets: final.groupOffsets,
      inputEnds: final.inputEnds,
    });
  if (!l.finalReadComplete)
    out.add("liveness", `the final read did not reach the end of every partition within the bound`, { ...l });
  if (l.caughtUp && l.finalReadComplete && l.healMs > l.boundMs)
    out.add("liveness", `healing and the final read took ${l.healMs} ms, over the ${l.boundMs} ms bound`, {
      ...l,
    });
}

/** The server exited on its own (not killed by the verifier) outside any disk fault. */
export function checkCrashes(history: readonly HistoryEvent[], out: Anomalies): void {
  for (const e of history)
    if (e.process === "server" && e.f === "crash" && e.duringDiskFault !== true)
      out.add("crash", `the server exited on its own (code ${String(e.code)}, signal ${String(e.signal)})`, {
        time: e.time,
        code: e.code,
        signal: e.signal,
        log: e.log,
      });
}
