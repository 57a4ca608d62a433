// The /readyz probe behind every "stays responsive under attack" assertion takes off the time the host kept
// the server waiting for a CPU (readyz-probe-worker.mjs). That must never hide a server that is not answering:
// a stopped process is neither running nor waiting for a CPU, so its whole stall has to be reported.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { probeReadyz, startApiServerProcess, type ApiServerProcess } from './apiserver-process.ts';

let server: ApiServerProcess;

beforeAll(async () => {
  server = await startApiServerProcess();
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('the /readyz probe', () => {
  it('reports a server that stops answering for 1.5 s as a 1.5 s stall, not as host contention', async () => {
    const probe = probeReadyz(server, 20);
    await probe.started;
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.kill(server.pid, 'SIGSTOP');
    try {
      await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const report = await probe.stop();
    expect(report.failures).toBe(0);
    expect(report.probes).toBeGreaterThan(2);
    expect(report.maxMs).toBeGreaterThan(1400);
    expect(report.wallMaxMs).toBeGreaterThanOrEqual(report.maxMs);
    expect(report.maxCpuWaitMs).toBeLessThan(report.wallMaxMs - 1400);
  });

  it('reports a quiet server as answering quickly', async () => {
    const probe = probeReadyz(server, 20);
    await probe.started;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const report = await probe.stop();
    expect(report.failures).toBe(0);
    expect(report.probes).toBeGreaterThan(5);
    expect(report.maxMs).toBeLessThan(1000);
    expect(report.maxMs).toBeLessThanOrEqual(report.wallMaxMs);
  });
});
