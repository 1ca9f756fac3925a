/** setTimeout's largest delay; a longer one fires after 1 ms (TimeoutOverflowWarning) and spins. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** A delay setTimeout honours: not negative, not beyond its limit (a later re-check is harmless). */
export function clampDelay(ms: number): number {
  if (!(ms > 0)) return 0;
  return Math.min(ms, MAX_TIMER_DELAY_MS);
}
