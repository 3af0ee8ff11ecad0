import { ProjectionsCommand } from './projections.command';
import { RebuildCommand } from './rebuild.command';
import { TimeTravelCommand } from './time-travel.command';
import { VerifyCommand } from './verify.command';

/** The CLI commands of projection status, rebuild, verify and time travel (admin.module.ts). */
export const REPLAY_COMMANDS = [
  ProjectionsCommand,
  RebuildCommand,
  VerifyCommand,
  TimeTravelCommand,
];
