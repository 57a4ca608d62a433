// Helpers shared by the controller-runtime integration tests.
import { Writable } from 'node:stream';
import winston from 'winston';
import { clientFromKubeconfig, NamespaceResource, type ApiClient } from '../../../apis/client/index.ts';
import { InformerCache, type Controller } from '../../../controllers/runtime/index.ts';
import { startTestApiServer, type TestApiServer } from '../../env/apiserver.ts';

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

/** A real API server (embedded store) with a namespace, a client and shared informers: what runtime tests start from. */
export interface RuntimeFixture {
  env: TestApiServer;
  client: ApiClient;
  informers: InformerCache;
  /** Stops the controllers given, then the informers, the client and the server. */
  stop(...controllers: Array<Controller | undefined>): Promise<void>;
}

export async function startRuntimeFixture(namespace: string, component: string, logger: winston.Logger): Promise<RuntimeFixture> {
  const env = await startTestApiServer({ storage: 'embedded' });
  const client = clientFromKubeconfig(env.kubeconfig, { component });
  await client.create(NamespaceResource, { metadata: { name: namespace } });
  const informers = new InformerCache(client, { defaults: { logger } });
  return {
    env,
    client,
    informers,
    async stop(...controllers) {
      for (const controller of controllers) await controller?.stop();
      await informers.stop();
      client.close();
      await env.stop();
    },
  };
}
