import { describe, expect, it } from "vitest";
import { trackTime } from "../src/adapters/track-time.ts";

describe("trackTime", () => {
  it("shows m:ss, h:mm:ss from an hour on, whole seconds rounded down as players count", () => {
    expect(trackTime(83_000)).toBe("1:23");
    expect(trackTime(289_000)).toBe("4:49");
    expect(trackTime(3_723_000)).toBe("1:02:03");
    expect(trackTime(59_999)).toBe("0:59");
    expect(trackTime(-500)).toBe("0:00");
  });
});
