// What every `photon <component>` entry point shares: flag parsing that turns mistakes into a usage error
// (exit 2 with the usage text), the state directory, and the main-module boilerplate.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { errorMessage } from './logging.ts';

/** A mistake on the command line: reported with the usage text, exit status 2. */
export class UsageError extends Error {}

/**
 * The process cannot run as configured (its port is taken, a file it needs is unusable): restarting it
 * would fail the same way, so it exits with CONFIGURATION_EXIT_STATUS and supervisors do not restart it.
 */
export class ConfigurationError extends Error {}

/** sysexits.h EX_CONFIG: what `photon all-in-one` (and systemd's RestartPreventExitStatus) treat as final. */
export const CONFIGURATION_EXIT_STATUS = 78;

/** parseArgs in strict mode; an unknown flag or a missing value is a UsageError. */
export function parseFlags<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, strict: true, options }).values;
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
}

/** The state directory: --home, else $PHOTON_HOME, else ./.photon (absolute). */
export function photonHome(homeFlag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(homeFlag ?? env.PHOTON_HOME ?? '.photon');
}

/** A flag that must be a whole number of at least min, or absent (undefined). */
export function wholeNumberFlag(value: string | undefined, min: number, message: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min) throw new UsageError(message);
  return number;
}

/**
 * `--ready-fd N`: a file descriptor of at least 3 the supervisor (the all-in-one) opened for this component's
 * readiness report; undefined when absent. A number that names no open descriptor is a usage error.
 */
export function readyFdFlag(value: string | undefined): number | undefined {
  const fd = wholeNumberFlag(value, 3, '--ready-fd must be a file descriptor number of at least 3');
  if (fd === undefined) return undefined;
  try {
    fs.fstatSync(fd);
  } catch {
    throw new UsageError(`--ready-fd ${fd}: no such open file descriptor`);
  }
  return fd;
}

/** Writes the readiness report as one JSON line to the --ready-fd descriptor, if any, and closes it. */
export function reportReady(fd: number | undefined, report: unknown): void {
  if (fd === undefined) return;
  fs.writeSync(fd, `${JSON.stringify(report)}\n`);
  fs.closeSync(fd);
}

/**
 * Runs main when moduleUrl is the process's entry module: --help/-h prints usage, a UsageError exits 2 with
 * the usage, a ConfigurationError exits CONFIGURATION_EXIT_STATUS, any other failure exits 1 — each with
 * `<name>: <message>`.
 */
export function runIfMain(moduleUrl: string, name: string, usage: string, main: (argv: string[]) => Promise<unknown>): void {
  const entry = process.argv[1];
  if (!entry || path.resolve(entry) !== path.resolve(new URL(moduleUrl).pathname)) return;
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(usage);
    process.exit(0);
  }
  main(process.argv.slice(2)).catch((error) => {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n\n${usage}`);
      process.exit(2);
    }
    process.stderr.write(`${name}: ${errorMessage(error)}\n`);
    process.exit(error instanceof ConfigurationError ? CONFIGURATION_EXIT_STATUS : 1);
  });
}
