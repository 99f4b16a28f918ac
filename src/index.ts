/**
 * nd-presence as a library: the service, its machines, and the types a host needs.
 * @module
 */
export { createPresenceService } from "./service/service.ts";
export type { PresenceService, PresenceServiceOptions, ServiceEvents } from "./service/service.ts";
export type { PlaybackEventInput } from "./actors/events.ts";
export type { ServiceClock } from "./clock.ts";
export type { ServiceConfig, UserConfig, PresenceConfig } from "./config/service-config.ts";
export type { ServiceStatus, UserStatusReport } from "./service/status.ts";
export { presenceMachine } from "./actors/presence-machine.ts";
export { supervisorMachine, USERS_PER_SHARD } from "./actors/supervisor-machine.ts";
export { shardMachine } from "./actors/shard-machine.ts";
export type { SupervisorInput, UserProfile } from "./actors/supervisor-machine.ts";
export type { PresenceInput, PresenceSettings, GatewayTimings } from "./actors/settings.ts";
export type { Track, Playback } from "./actors/track.ts";
export type { DomainEvent, DomainEventInput, PlaybackEvent, GatewayEvent } from "./actors/events.ts";
export type { Activity, Effect, PresencePayload } from "./actors/effects.ts";
export { buildActivity } from "./actors/activity.ts";
export { classifyClose } from "./actors/close-codes.ts";
export { PresenceError } from "./errors.ts";
export { consoleLogger, memoryLogger, silentLogger, type Logger } from "./adapters/logger.ts";
export { MemoryJournal, type Journal, type JournalEntry } from "./adapters/journal/journal.ts";
export { JsonlJournal, type FsyncPolicy, type JsonlJournalOptions } from "./adapters/journal/jsonl-journal.ts";
export type { Checkpoint } from "./service/checkpoint.ts";
export { startApp } from "./app.ts";
