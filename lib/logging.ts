// One logger factory for every PhotonCloud process. JSON lines in production (or when stdout is not a
// terminal, so log shippers get structure); a compact coloured line in a terminal. PHOTON_LOG_FORMAT=json|text
// and PHOTON_LOG_LEVEL=error|warn|info|http|debug override the choice.
import winston from 'winston';

export type Logger = winston.Logger;

function wantsJson(): boolean {
  const format = process.env.PHOTON_LOG_FORMAT;
  if (format === 'json') return true;
  if (format === 'text') return false;
  return process.env.NODE_ENV === 'production' || !process.stderr.isTTY;
}

const textFormat = winston.format.combine(
  winston.format.colorize(),
  winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
  winston.format.printf(({ timestamp, level, message, component, ...rest }) => {
    const fields = Object.entries(rest)
      .filter(([key]) => key !== 'stack')
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
    const stack = typeof rest.stack === 'string' ? `\n${rest.stack}` : '';
    return `${timestamp} ${level} [${component ?? 'photon'}] ${message}${fields ? ' ' + fields : ''}${stack}`;
  }),
);

const jsonFormat = winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json());

let root: winston.Logger | undefined;

function rootLogger(): winston.Logger {
  root ??= winston.createLogger({
    level: process.env.PHOTON_LOG_LEVEL ?? 'info',
    format: wantsJson() ? jsonFormat : textFormat,
    // stderr keeps stdout free for command output (photon prints the kubeconfig path there).
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] })],
  });
  return root;
}

/** A child logger tagged with the component name (apiserver, controller-manager, …) and any fixed fields. */
export function createLogger(component: string, fields: Record<string, unknown> = {}): Logger {
  return rootLogger().child({ component, ...fields });
}

/** Changes the level of every logger (e.g. from a --log-level flag). */
export function setLogLevel(level: string): void {
  rootLogger().level = level;
}

/** Renders an unknown thrown value for a log line without leaking huge objects. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
