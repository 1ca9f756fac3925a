import { describe, expect, it } from "vitest";
import { consumerName, lanePriority, laneOf, parseConsumerName } from "../../src/store/jetstream/layout.ts";

describe("JetStream lanes", () => {
  it("unkeyed deliveries go to their priority's lane; keyed ones of ordered endpoints keep their key's lane", () => {
    expect(laneOf(false, "", 0)).toBe("u");
    expect(laneOf(false, "k1", 7)).toBe("p7");
    expect(laneOf(true, "", 9)).toBe("p9");
    const keyed = laneOf(true, "order-42", 9);
    expect(keyed).toMatch(/^k\d+$/);
    expect(laneOf(true, "order-42", 0)).toBe(keyed);
    expect([lanePriority("p9"), lanePriority("p1"), lanePriority("u"), lanePriority(keyed)]).toEqual([9, 1, 0, 0]);
  });

  it("only keyed lanes count as keyed (one message in flight); priority lanes are unordered", () => {
    expect(parseConsumerName(consumerName("ep_1", "p7"))).toEqual({ endpointId: "ep_1", keyed: false, lane: "p7" });
    expect(parseConsumerName(consumerName("ep_1", "u"))).toEqual({ endpointId: "ep_1", keyed: false, lane: "u" });
    expect(parseConsumerName(consumerName("ep_1", "k3"))).toEqual({ endpointId: "ep_1", keyed: true, lane: "k3" });
  });
});
