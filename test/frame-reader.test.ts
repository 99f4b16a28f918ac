import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import { MAX_HEARTBEAT_INTERVAL_MS, parseFrame, readFrame, readFrameBytes } from "../src/adapters/discord/frame-reader.ts";

// What the connection reads from each incoming frame: a dispatch in Discord's key order from its
// head alone, everything else by a full parse.
describe("readFrame", () => {
  it("reads a dispatch written t, s, op first from its head, without parsing the payload", () => {
    // The payload is not even JSON: had it been parsed, this would be a problem, not a dispatch.
    expect(readFrame('{"t":"MESSAGE_CREATE","s":42,"op":0,"d":{this is never parsed')).toEqual({ kind: "dispatch", name: "MESSAGE_CREATE", seq: 42 });
    expect(readFrame('{"t":"TYPING_START","s":null,"op":0,"d":{}}')).toEqual({ kind: "dispatch", name: "TYPING_START", seq: null });
    const big = `{"t":"GUILD_MEMBERS_CHUNK","s":7,"op":0,"d":{"members":[${'{"id":"1"},'.repeat(100_000)}{}]}}`;
    expect(readFrame(big)).toEqual({ kind: "dispatch", name: "GUILD_MEMBERS_CHUNK", seq: 7 });
  });

  it("parses a dispatch whose keys come in another order, and READY and RESUMED always", () => {
    expect(readFrame('{"op":0,"d":{"x":1},"s":9,"t":"PRESENCE_UPDATE"}')).toEqual({ kind: "dispatch", name: "PRESENCE_UPDATE", seq: 9 });
    expect(readFrame('{ "t": "MESSAGE_CREATE", "s": 3, "op": 0, "d": {} }')).toEqual({ kind: "dispatch", name: "MESSAGE_CREATE", seq: 3 });
    expect(readFrame('{"t":"READY","s":1,"op":0,"d":{"session_id":"abc","resume_gateway_url":"wss://r","user":{"id":"5"},"guilds":[]}}')).toEqual({
      kind: "session",
      seq: 1,
      event: { type: "gateway.ready", seq: 1, sessionId: "abc", resumeUrl: "wss://r" },
    });
    expect(readFrame('{"t":"RESUMED","s":12,"op":0,"d":null}')).toEqual({ kind: "session", seq: 12, event: { type: "gateway.resumed", seq: 12 } });
  });

  it("keeps s: 0, tolerates missing READY fields and any ACK payload", () => {
    expect(parseFrame('{"op":0,"t":"READY","s":0,"d":{}}')).toEqual({
      kind: "session",
      seq: 0,
      event: { type: "gateway.ready", seq: 0, sessionId: undefined, resumeUrl: undefined },
    });
    expect(parseFrame('{"op":0,"t":"RESUMED","s":null,"d":null}')).toEqual({ kind: "session", seq: null, event: { type: "gateway.resumed", seq: null } });
    expect(parseFrame('{"op":11,"d":{}}')).toEqual({ kind: "heartbeatAck", seq: null });
    expect(parseFrame('{"op":11}')).toEqual({ kind: "heartbeatAck", seq: null });
    expect(parseFrame('{"op":1,"d":null}')).toEqual({ kind: "heartbeatRequest", seq: null });
    expect(parseFrame('{"op":9,"d":"yes"}')).toEqual({ kind: "session", seq: null, event: { type: "gateway.invalidSession", resumable: false } });
    expect(parseFrame('{"op":7,"d":null}')).toEqual({ kind: "session", seq: null, event: { type: "gateway.reconnect" } });
  });

  it("names what is wrong with a frame it cannot read, with the op and the name only", () => {
    expect(readFrame("[1]")).toEqual({ kind: "problem", problem: "not an object" });
    expect(readFrame('{"d":1}')).toMatchObject({ kind: "problem", problem: "missing or non-numeric op" });
    expect(readFrame('{"op":0,"d":{"secret":"x"}}')).toEqual({ kind: "problem", problem: "dispatch without a name", op: 0 });
    expect(readFrame('{"op":42,"t":"ODD","d":{"secret":"x"}}')).toEqual({ kind: "problem", problem: "unknown opcode", op: 42, t: "ODD" });
    expect(readFrame("{not json")).toEqual({ kind: "problem", problem: "invalid JSON" });
  });

  it("refuses a Hello whose interval is not a number in (0, 10 min]", () => {
    const hello = (interval: unknown) => readFrame(JSON.stringify({ op: 10, d: { heartbeat_interval: interval } }));
    for (const bad of [0, -5, MAX_HEARTBEAT_INTERVAL_MS + 1, "soon", null]) expect(hello(bad)).toMatchObject({ kind: "problem", op: 10 });
    expect(hello(41_250)).toEqual({ kind: "session", seq: null, event: { type: "gateway.hello", heartbeatIntervalMs: 41_250 } });
    expect(hello(MAX_HEARTBEAT_INTERVAL_MS)).toMatchObject({ kind: "session" });
  });
});

describe("readFrameBytes", () => {
  it("decodes only the head of a dispatch, and the whole of anything else", () => {
    // Bytes that are not UTF-8 after the head: never decoded, so never a problem.
    const dispatch = Buffer.concat([Buffer.from('{"t":"MESSAGE_CREATE","s":8,"op":0,"d":'), Buffer.from([0xff, 0xfe, 0x00]), Buffer.from("}")]);
    expect(readFrameBytes(dispatch)).toEqual({ kind: "dispatch", name: "MESSAGE_CREATE", seq: 8 });
    const ready = Buffer.from('{"t":"READY","s":1,"op":0,"d":{"session_id":"é-session","user":{"id":"5"}}}');
    expect(readFrameBytes(ready)).toMatchObject({ kind: "session", event: { type: "gateway.ready", sessionId: "é-session" } });
    expect(readFrameBytes(Buffer.from('{"op":11,"d":null}'))).toEqual({ kind: "heartbeatAck", seq: null });
  });
});
