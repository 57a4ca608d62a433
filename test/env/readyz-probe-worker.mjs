// The /readyz probe of test/env/apiserver-process.ts, on its own thread: the test's main thread builds and
// sends multi-megabyte attack bodies, and a probe sharing its event loop would time those, not the server.
// Plain JavaScript, so it runs in a worker without a TypeScript loader.
import https from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';

const { url, ca, intervalMs } = workerData;
const agent = new https.Agent({ ca, keepAlive: true, maxSockets: 1 });
const report = { probes: 0, failures: 0, maxMs: 0 };
let running = true;
let outstandingSince;

function probe(record) {
  return new Promise((resolve) => {
    const started = performance.now();
    if (record) outstandingSince = started;
    const done = (ok) => {
      if (record) {
        report.probes++;
        report.maxMs = Math.max(report.maxMs, performance.now() - started);
        if (!ok) report.failures++;
        outstandingSince = undefined;
      }
      resolve();
    };
    const request = https.get(new URL('/readyz', url), { agent, timeout: 10_000 }, (response) => {
      response.resume();
      response.on('end', () => done(response.statusCode === 200));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', () => done(false));
  });
}

parentPort.on('message', (message) => {
  if (message === 'stop') running = false;
});

// One unrecorded probe first: it pays for the TLS handshake, which is not what is being measured.
await probe(false);
parentPort.postMessage({ type: 'ready' });
while (running) {
  await probe(true);
  await new Promise((resolve) => setTimeout(resolve, intervalMs));
}
if (outstandingSince !== undefined) report.maxMs = Math.max(report.maxMs, performance.now() - outstandingSince);
agent.destroy();
parentPort.postMessage({ type: 'report', report });
