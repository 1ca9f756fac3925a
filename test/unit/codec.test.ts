import { describe, expect, it } from "vitest";
import { decodeEndpoint, encodeJson } from "../../src/store/jetstream/codec.ts";

describe("JetStream endpoint codec", () => {
  it("an endpoint stored before success codes existed reads with none; a stored list is kept", () => {
    const old = { id: "ep_1", tenantId: "tnt_1", url: "http://127.0.0.1/x", ordering: "unordered" };
    expect(decodeEndpoint(encodeJson(old)).successStatusCodes).toEqual([]);
    expect(decodeEndpoint(encodeJson({ ...old, successStatusCodes: [409] })).successStatusCodes).toEqual([409]);
  });
});
