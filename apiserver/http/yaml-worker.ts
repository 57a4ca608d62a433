// The worker-thread side of yaml-worker-pool.ts: decodes YAML bodies one at a time and answers with the
// plain value or the 4xx it would have been on the main thread.
import os from 'node:os';
import { parentPort } from 'node:worker_threads';
import { ApiError } from '../errors.ts';
import { decodeYamlText } from './yaml-decode.ts';

export interface YamlTask {
  id: number;
  text: string;
}

export type YamlResult = { id: number; value: unknown } | { id: number; error: { code: number; reason: string; message: string } };

// Decoding is work a client can make as expensive as its body allows: on a busy machine it must not take
// CPU from the event loop that serves everyone. Linux keeps nice values per thread, so this lowers only
// this worker (elsewhere it may not apply, or not be allowed; decoding still works).
try {
  os.setPriority(0, 10);
} catch {
  // not permitted here: run at normal priority
}

parentPort!.on('message', ({ id, text }: YamlTask) => {
  let result: YamlResult;
  try {
    result = { id, value: decodeYamlText(text) };
  } catch (error) {
    const apiError = error instanceof ApiError ? error : new ApiError(400, 'BadRequest', 'the request body is not valid YAML');
    result = { id, error: { code: apiError.code, reason: apiError.reason, message: apiError.message } };
  }
  parentPort!.postMessage(result);
});
