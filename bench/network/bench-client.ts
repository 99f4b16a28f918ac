/**
 * Who the bench's clients say they are, on every side and in every scenario: one Discord
 * application, one user agent, tokens `bench-<user>` (the fake gateway takes the user from them),
 * and a REST base where nothing listens, so that no call could ever leave the machine.
 */
export const APP_ID = "1234567890123456789";
export const USER_AGENT = "nd-presence-bench/0.1";
/** A loopback port where nothing listens: any REST call would fail here, never leave the machine. */
export const NOWHERE = "http://127.0.0.1:9";
export const tokenFor = (user: string) => `bench-${user}`;
