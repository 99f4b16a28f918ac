import type { Activity } from "../src/actors/effects.ts";
import type { Track } from "../src/actors/track.ts";

/**
 * The activity for a track, field for field what nd-presence sends with the bench's settings,
 * built by hand: what the raw client and the minimal machine send. (No XState here: the raw
 * side's process loads this.)
 */
export function trackActivity(track: Track, at: number, applicationId: string): Activity {
  return {
    type: 2,
    name: "Navidrome",
    application_id: applicationId,
    status_display_type: 2,
    details: track.title,
    state: track.artist,
    timestamps: { start: Math.round(at), end: Math.round(at + (track.durationMs ?? 0)) },
    assets: { large_text: track.album ?? "" },
  };
}
