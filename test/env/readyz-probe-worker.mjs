// The /readyz probe of test/env/apiserver-process.ts, on its own thread: the test's main thread builds and
// sends multi-megabyte attack bodies, and a probe sharing its event loop would time those, not the server.
// Plain JavaScript, so it runs in a worker without a TypeScript loader.
//
// What is measured is the server's own responsiveness, not the host's: under the full suite another test's
// QEMU guest can hold a core, and on a slow host the server's event loop then waits seconds for a CPU while
// doing nothing wrong. Linux counts, per thread, the time it was runnable but waiting for a CPU
// (/proc/…/schedstat, second field). Each probe's latency is reported less the larger of that wait, during
// the probe, of the server's main thread and of this thread. Time the server spends running (a long
// synchronous task) or blocked (a synchronous wait) is never subtracted, so a real stall still counts in full.
import fs from 'node:fs';
import https from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';

const { url, ca, intervalMs, pid } = workerData;
const agent = new https.Agent({ ca, keepAlive: true, maxSockets: 1 });
const report = { probes: 0, failures: 0, maxMs: 0, wallMaxMs: 0, maxCpuWaitMs: 0, maxStealMs: 0 };
let running = true;
let outstanding;

/** Nanoseconds a thread has spent runnable but waiting for a CPU; 0 where Linux's schedstat is not available. */
function cpuWaitNs(file) {
  try {
    return Number(fs.readFileSync(file, 'utf8').split(' ')[1]) || 0;
  } catch {
    return 0;
  }
}
const SERVER_THREAD = pid ? `/proc/${pid}/task/${pid}/schedstat` : undefined;
const waits = () => ({ server: SERVER_THREAD ? cpuWaitNs(SERVER_THREAD) : 0, probe: cpuWaitNs('/proc/thread-self/schedstat'), steal: stealMsByCpu() });

/**
 * Each CPU's steal time in ms (/proc/stat: time the hypervisor ran something else on it). Reported only, never
 * taken off: a thread the hypervisor stalls while it runs counts as neither running nor waiting, and which
 * CPU it was on is not known here. It tells a slow run on a crowded host from a slow server.
 */
function stealMsByCpu() {
  try {
    const cpus = fs.readFileSync('/proc/stat', 'utf8').split('\n').filter((line) => /^cpu\d/.test(line));
    return cpus.map((line) => Number(line.split(/\s+/)[8]) * 10); // USER_HZ: 1/100 s on Linux
  } catch {
    return [];
  }
}

/** Adds one probe's latency, measured since `since`, to the report's maxima. */
function noteLatency(since) {
  const wallMs = performance.now() - since.at;
  const now = waits();
  const cpuWaitMs = Math.max(now.server - since.waits.server, now.probe - since.waits.probe) / 1e6;
  report.wallMaxMs = Math.max(report.wallMaxMs, wallMs);
  report.maxCpuWaitMs = Math.max(report.maxCpuWaitMs, cpuWaitMs);
  report.maxStealMs = Math.max(report.maxStealMs, ...now.steal.map((ms, cpu) => ms - (since.waits.steal[cpu] ?? ms)));
  report.maxMs = Math.max(report.maxMs, wallMs - cpuWaitMs);
}

function probe(measured) {
  return new Promise((resolve) => {
    const since = { at: performance.now(), waits: waits() };
    if (measured) outstanding = since;
    const done = (ok) => {
      if (measured) {
        report.probes++;
        if (!ok) report.failures++;
        noteLatency(since);
        outstanding = undefined;
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

// One unmeasured probe first: it pays for the TLS handshake, which is not what is being measured.
await probe(false);
parentPort.postMessage({ type: 'ready' });
while (running) {
  await probe(true);
  await new Promise((resolve) => setTimeout(resolve, intervalMs));
}
// A probe still outstanding at stop counts with its age.
if (outstanding !== undefined) noteLatency(outstanding);
agent.destroy();
parentPort.postMessage({ type: 'report', report });
