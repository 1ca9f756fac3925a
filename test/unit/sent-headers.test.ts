import { describe, expect, it } from "vitest";
import { customHeaderSuffix, encodeSentHeaders, sentHeaders } from "../../src/core/sent-headers.ts";

describe("sent headers", () => {
  it("store the user-agent, the signature and custom header names, never their values", () => {
    const encoded = encodeSentHeaders("hookline/1.2.3", "v1,abc= v1,def=", customHeaderSuffix({ "x-api-key": "s3cret", authorization: "Bearer t" }));
    expect(encoded).not.toContain("s3cret");
    expect(encoded).not.toContain("Bearer");
    expect(sentHeaders(encoded, "dlv_1", 1_700_000_000_999)).toEqual({
      "content-type": "application/json",
      "user-agent": "hookline/1.2.3",
      "webhook-id": "dlv_1",
      "webhook-timestamp": "1700000000",
      "webhook-signature": "v1,abc= v1,def=",
      "x-api-key": "<redacted>",
      authorization: "<redacted>",
    });
  });

  it("an attempt that sent nothing, or was recorded before headers were kept, shows none", () => {
    expect(encodeSentHeaders("hookline/1.2.3", "", "\nx-a")).toBe("");
    expect(sentHeaders("", "dlv_1", 0)).toEqual({});
    expect(sentHeaders(undefined, "dlv_1", 0)).toEqual({});
  });
});
