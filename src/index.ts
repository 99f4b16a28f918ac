/**
 * nd-presence as a library: the service, its machines, and the types a host needs.
 * @module
 */
export { createPresenceService } from "./service/service.ts";
export type { PresenceService, PresenceServiceOptions, ServiceEvents } from "./service/service.ts";
export type { Reconfiguration } from "./service/reconfigure.ts";
export type { PlaybackEventInput } from "./actors/events.ts";
export type { ServiceClock } from "./clock.ts";
export type { PresenceConfig, ServiceConfig, UserConfig } from "./config/service-config.ts";
export type { ServiceStatus, UserStatusReport } from "./service/status.ts";
export { presenceMachine } from "./actors/presence-machine.ts";
export { supervisorMachine, USERS_PER_SHARD } from "./actors/supervisor-machine.ts";
export { shardMachine } from "./actors/shard-machine.ts";
export type { SupervisorInput, UserProfile } from "./actors/supervisor-machine.ts";
export type { GatewayTimings, PresenceInput, PresenceSettings } from "./actors/settings.ts";
export type { Playback, Track } from "./actors/track.ts";
export type { DomainEvent, DomainEventInput, GatewayEvent, PlaybackEvent } from "./actors/events.ts";
export type { Activity, Effect, PresencePayload } from "./actors/effects.ts";
export { buildActivity } from "./actors/activity.ts";
export { classifyClose } from "./actors/close-codes.ts";
export { PresenceError } from "./errors.ts";
export { consoleLogger, type Logger, memoryLogger, operatorLogger, silentLogger } from "./adapters/logger.ts";
export { type Journal, type JournalEntry, MemoryJournal } from "./adapters/journal/journal.ts";
export { type FsyncPolicy, JsonlJournal, type JsonlJournalOptions } from "./adapters/journal/jsonl-journal.ts";
export type { Checkpoint } from "./service/checkpoint.ts";
export { type App, type AppOptions, startApp } from "./app.ts";
