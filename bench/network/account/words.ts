/**
 * Words the fake account's READY and dispatches are made of, so that they read like a real
 * account's (names of guilds, channels, friends, games) rather than like filler.
 */
import { between, pick } from "../../seeded.ts";

const NAMES = ["nova", "kite", "ember", "moss", "quill", "tundra", "lark", "onyx", "fable", "rook", "sable", "wren", "juno", "pike", "cobalt", "fern"];
const GUILDS = [
  "Vinyl Collectors",
  "Indie Game Dev",
  "Night Owls",
  "Synth Lab",
  "Book Club",
  "Rust Belt Gaming",
  "Lo-fi Lounge",
  "Home Lab",
  "Trail Runners",
  "Pixel Art",
];
const CHANNELS = [
  "general",
  "music",
  "off-topic",
  "announcements",
  "memes",
  "help",
  "showcase",
  "voice-chat",
  "bots",
  "listening-party",
  "rules",
  "introductions",
];
export const GAMES = [
  "Hollow Knight",
  "Factorio",
  "Stardew Valley",
  "Counter-Strike 2",
  "Minecraft",
  "Celeste",
  "Hades II",
  "Baldur's Gate 3",
  "Terraria",
  "Rocket League",
];
const SENTENCES = [
  "anyone up for a round later tonight?",
  "that new album is so good, the second half especially",
  "pushed the fix, can someone review before I merge",
  "lol same",
  "just got back, what did I miss",
  "the stream starts in 10 minutes, link in announcements",
  "has anyone tried the beta build yet? it crashes on launch for me",
  "good morning everyone",
  "I'll bring the cables, you bring the snacks",
  "that boss took me two hours, finally",
];

export const name = (random: () => number) => `${pick(random, NAMES)}${between(random, 1, 9999)}`;
export const guildName = (random: () => number) => pick(random, GUILDS);
export const channelName = (random: () => number) => pick(random, CHANNELS);
export const sentence = (random: () => number) => pick(random, SENTENCES);

/** An ISO time within a few years before the journals' epoch. */
export const isoTime = (random: () => number) => new Date(1_600_000_000_000 + between(random, 0, 130_000_000) * 1000).toISOString();
