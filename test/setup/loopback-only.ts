/**
 * No test sends traffic anywhere but loopback: every service nd-presence talks to is faked on
 * 127.0.0.1. This makes a `fetch` to any other host fail the test that made it, loudly, instead of
 * leaving the machine (or failing quietly on a machine without DNS, as a CI box may not be).
 */
const loopback = new Set(["127.0.0.1", "localhost", "[::1]"]);
const realFetch = globalThis.fetch;

globalThis.fetch = (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
  const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
  if (!loopback.has(url.hostname)) {
    return Promise.reject(new Error(`test tried to reach ${url.protocol}//${url.host}: only loopback fakes may be used`));
  }
  return realFetch(input, init);
};
