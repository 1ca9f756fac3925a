import { BreakerState } from "../../gen/hookline/v1/endpoint_pb.ts";
import { CONNECTION_FLAGS, JSON_FLAG, connect } from "../api.ts";
import { text, type Command } from "../command.ts";
import { out } from "../output.ts";
import { allEndpoints } from "./endpoints.ts";

export const statsCommand: Command = {
  name: "stats",
  summary: "Totals across endpoints: how many are enabled, disabled or paused by their breaker, and the backlog.",
  flags: { ...CONNECTION_FLAGS, ...JSON_FLAG, tenant: { type: "string", value: "ID", help: "only this tenant" } },
  async run({ flags }) {
    const api = connect(flags);
    const totals = { endpoints: 0, enabled: 0, disabled: 0, breakerOpen: 0, pending: 0, retrying: 0, inFlight: 0 };
    for (const e of await allEndpoints(api, text(flags, "tenant"))) {
      const s = (await api.endpoints.getEndpointStats({ id: e.id })).stats!;
      totals.endpoints++;
      if (e.disabled) totals.disabled++;
      else totals.enabled++;
      if (s.breakerState !== BreakerState.CLOSED && s.breakerState !== BreakerState.UNSPECIFIED) totals.breakerOpen++;
      totals.pending += Number(s.pending);
      totals.retrying += Number(s.retrying);
      totals.inFlight += Number(s.inFlight);
    }
    if (flags.json) return out(JSON.stringify(totals));
    out(`endpoints   ${totals.endpoints} (${totals.enabled} enabled, ${totals.disabled} disabled, ${totals.breakerOpen} paused by their breaker)`);
    out(`backlog     ${totals.pending} pending, ${totals.retrying} retrying, ${totals.inFlight} in flight`);
  },
};
