/**
 * The commented example config that `nd-presence init` writes. It covers every section, shows the
 * defaults, and keeps every secret in the environment (`env:NAME`). A test checks that it parses
 * and validates once the variables it names are set.
 *
 * @example
 * writeFileSync("nd-presence.json", exampleConfig());
 */
export function exampleConfig(): string {
  return `// nd-presence configuration: JSON with comments. The schema is config.schema.json.
// Any string value may be "env:NAME" to read it from the environment; keep every secret there.
// Check this file with: nd-presence check --config <this file>
{
  "discord": {
    // Your Discord application's Application ID (https://discord.com/developers/applications).
    "applicationId": "1234567890123456789",
    "apiBaseUrl": "https://discord.com/api",
    // null: discover the gateway. A ws:// or wss:// URL skips discovery.
    "gatewayUrl": null,
    // "auto": every activity field, and only the core ones to a server that refuses the others
    // (some Discord-compatible servers do). "full" or "core" forces a set.
    "activityFields": "auto"
    // "properties": { "os": "Linux", "browser": "Discord Client", "device": "", "system_locale": "en-US" },
    // "userAgent": "nd-presence/0.1.0 (Discord Rich Presence for Navidrome)"
  },

  // How the activity reads. Placeholders: {title}, {artist}, {album}, {albumArtist}.
  "presence": {
    "name": "Navidrome",
    "details": "{title}",
    "state": "{artist}",
    "largeText": "{album}",
    "statusDisplay": "details",  // what the member list shows: "name", "state" or "details"
    "status": "online",          // "online", "idle", "dnd" or "invisible"
    "onPause": "show",           // "show" (elapsed clock and a Paused image) or "clear"
    "links": "musicbrainz",      // or "none"
    "pausedImage": null
  },

  "artwork": {
    // Tried in order. "upload" sends cover bytes to a temporary public host (uguu.se): opt-in.
    "order": ["coverartarchive", "public"],
    // Shown when no source has art: the Navidrome logo unless you set an image URL here, or "none".
    // "defaultImage": "none",
    "coverArtArchiveUrl": "https://coverartarchive.org",
    // A track without a release MBID: find its album on MusicBrainz (1 request/s), then its cover.
    "musicBrainzLookup": true,
    "musicBrainzUrl": "https://musicbrainz.org",
    "uploadUrl": "https://uguu.se/upload",
    // Your server's public artwork URL, if Discord can reach it from the internet.
    "publicUrl": null            // e.g. "https://music.example.org/img/{coverArtId}"
  },

  "sources": {
    // Poll Navidrome (or any Subsonic server) for what is playing. null turns it off.
    "subsonic": {
      "url": "http://127.0.0.1:4533",
      "username": "admin",
      "password": "env:ND_PASSWORD",
      "pollIntervalMs": 2000
    },
    // A ListenBrainz-compatible receiver on the HTTP server: set Navidrome's
    // ListenBrainz.BaseURL (ND_LISTENBRAINZ_BASEURL) to http://127.0.0.1:4534/1/ (in compose:
    // http://nd-presence:4534/1/) and give each user their listenbrainzToken.
    "listenbrainz": {
      "enabled": true,
      "forwardUrl": null,        // e.g. "https://api.listenbrainz.org" to scrobble there too
      "maxBodyBytes": 1048576
    }
  },

  // Status page, /healthz, /status, /metrics and the receiver. The address is 127.0.0.1 unless
  // ND_PRESENCE_HTTP_HOST says otherwise (the container image: 0.0.0.0, for Navidrome next to it).
  // Never publish it to the internet: it shows who plays what, and takes listens.
  "http": { "enabled": true, "port": 4534 },  // "host": "127.0.0.1"

  // Every input is journaled before it is applied; a restart replays it and resumes the sessions.
  // fsync: "interval" (default) loses nothing on a crash of nd-presence and at most
  // fsyncIntervalMs on a power loss; "always" loses nothing at all, at a cost; "never" leaves it to the OS.
  // path: data/journal.jsonl, or journal.jsonl in $ND_PRESENCE_DATA when that is set (the container: /data).
  "journal": { "fsync": "interval", "fsyncIntervalMs": 1000 },  // "path": "data/journal.jsonl"

  "inspector": { "enabled": false, "port": 4535 },

  // Logs go to stderr. "debug", "info", "warn" or "error": the least severe level written.
  // nd-presence start --log-level LEVEL overrides it.
  "log": { "level": "info" },

  // Gateway timings in ms. The defaults follow Discord's rules; change them only with a reason.
  "gateway": {
    // "helloTimeoutMs": 30000, "readyTimeoutMs": 15000, "idleTimeoutMs": 300000,
    // "backoffBaseMs": 1000, "backoffCapMs": 120000, "endGraceMs": 5000
  },

  "sweepIntervalMs": 60000,

  // username: the user's name on the music server.
  "users": [
    {
      "username": "alice",
      "discordToken": "env:DISCORD_TOKEN_ALICE",
      "listenbrainzToken": "env:LB_TOKEN_ALICE",
      "status": "idle",
      "ignorePlayers": []
      // "presence": { "details": "{title} by {artist}" }
    },
    // {
    //   "username": "bob",
    //   "discordToken": "env:DISCORD_TOKEN_BOB",
    //   "enabled": true
    // },
  ]
}
`;
}
