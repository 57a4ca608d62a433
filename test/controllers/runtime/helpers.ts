// Helpers shared by the controller-runtime integration tests.
import { Writable } from 'node:stream';
import winston from 'winston';

export interface LogEntry {
  level: string;
  message: string;
  [field: string]: unknown;
}

/** A winston logger (debug level) that keeps every entry in memory instead of printing it. */
export function captureLogger(): { logger: winston.Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) entries.push(JSON.parse(line) as LogEntry);
      callback();
    },
  });
  const logger = winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] });
  return { logger, entries };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
