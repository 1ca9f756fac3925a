// The health figures of an endpoint (GetEndpointStats), as table cells and as a panel.
import type { Endpoint, EndpointStats } from "../../../src/gen/hookline/v1/endpoint_pb.ts";
import { h } from "../dom.ts";
import { breakerName, breakerTone, ms, percent, time } from "../format.ts";
import { badge, facts } from "../ui.ts";

export function stateBadge(e: Pick<Endpoint, "disabled" | "disabledReason">): HTMLElement {
  return e.disabled ? h("span", null, badge("disabled", "bad"), " ", h("span", { class: "reason" }, e.disabledReason)) : badge("enabled", "ok");
}

export function successCell(s: EndpointStats | undefined): HTMLElement | string {
  if (!s) return "—";
  const tone = s.recentAttempts === 0 ? "muted" : s.successRate >= 0.99 ? "ok" : s.successRate >= 0.9 ? "warn" : "bad";
  return h("span", { class: `figure ${tone}`, title: `over the last ${s.recentAttempts} attempts` }, percent(s.successRate, s.recentAttempts));
}

export const backlog = (s: EndpointStats): number => Number(s.pending + s.retrying + s.inFlight);

export function breakerCell(s: EndpointStats | undefined): HTMLElement | string {
  return s ? badge(breakerName(s.breakerState), breakerTone(s.breakerState)) : "—";
}

export function healthPanel(s: EndpointStats): HTMLElement {
  return facts([
    ["Success rate", successCell(s)],
    ["Recent attempts", String(s.recentAttempts)],
    ["Latency p50 / p95 / p99", `${ms(s.latencyP50)} / ${ms(s.latencyP95)} / ${ms(s.latencyP99)}`],
    ["Backlog", `${s.pending} pending, ${s.retrying} retrying, ${s.inFlight} in flight`],
    ["Breaker", h("span", null, breakerCell(s), s.consecutiveFailures > 0 ? ` after ${s.consecutiveFailures} failures in a row` : "")],
    ["Failing since", time(s.failingSince)],
    ["Effective rate", s.effectiveRatePerSecond === 0 ? "unlimited" : `${s.effectiveRatePerSecond.toFixed(1)}/s`],
    ["Last success", time(s.lastSuccessTime)],
    ["Last failure", time(s.lastFailureTime)],
    ["State", stateBadge(s)],
  ]);
}
