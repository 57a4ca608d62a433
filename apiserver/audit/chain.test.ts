// The hash chain as `photon audit verify` sees it: a log of sealed lines verifies; editing a line fails at
// that line, deleting or reordering fails at the first line after the gap, a cut-short last line is named, and
// a file that lost its head fails at its new first line. Cutting lines off the end is what a chain alone cannot
// see (docs/operations.md says so); the test pins that too, so the documentation stays true.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CHAIN_ANNOTATION, checkLine, GENESIS, PREVIOUS_ANNOTATION, sealEvent, sealedHash } from './chain.ts';
import { verifyAuditLog } from './verify.ts';

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-audit-chain-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** n sealed lines, each a small event with its index and a value an attacker might like to change. */
function sealedLines(n: number): string[] {
  const lines: string[] = [];
  let previous = GENESIS;
  for (let index = 0; index < n; index++) {
    const { line, hash } = sealEvent({ kind: 'Event', index, verb: 'get', note: `quote " and \\ and ${CHAIN_ANNOTATION}":"x`, annotations: { 'authorization.k8s.io/decision': 'allow' } } as { annotations: Record<string, string> }, previous);
    lines.push(line);
    previous = hash;
  }
  return lines;
}

let fileCounter = 0;
async function writeLog(lines: string[], ending = '\n'): Promise<string> {
  const file = path.join(dir, `audit-${++fileCounter}.log`);
  await fs.writeFile(file, lines.length ? lines.join('\n') + ending : '');
  return file;
}

describe('sealing', () => {
  it('puts the previous and own hash last, and each line checks on its own', () => {
    const [first, second] = sealedLines(2) as [string, string];
    const event = JSON.parse(first);
    expect(Object.keys(event).at(-1)).toBe('annotations');
    expect(Object.keys(event.annotations).slice(-2)).toEqual([PREVIOUS_ANNOTATION, CHAIN_ANNOTATION]);
    expect(event.annotations[PREVIOUS_ANNOTATION]).toBe(GENESIS);
    expect(event.annotations[CHAIN_ANNOTATION]).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(second).annotations[PREVIOUS_ANNOTATION]).toBe(sealedHash(first));
    expect(checkLine(Buffer.from(first), GENESIS, true)).toEqual({ ok: true, hash: sealedHash(first) });
    // A caller's own chain annotations are replaced, never trusted.
    const forged = sealEvent({ annotations: { [CHAIN_ANNOTATION]: 'f'.repeat(64), [PREVIOUS_ANNOTATION]: 'e'.repeat(64) } }, GENESIS);
    expect(checkLine(Buffer.from(forged.line), GENESIS, true).ok).toBe(true);
  });

  it('refuses an event whose annotations are not its last field (the hash would not sit at the end)', () => {
    expect(() => sealEvent({ annotations: {}, after: 1 } as { annotations: Record<string, string> }, GENESIS)).toThrow(/annotations must be the last field/);
  });

  it('keeps every annotation as a key of its own, __proto__ included, and chains only from a hash', () => {
    const annotations = JSON.parse('{"__proto__":"x","audit.k8s.io/a":"b"}') as Record<string, string>;
    const sealed = sealEvent({ annotations }, GENESIS);
    expect(Object.keys(JSON.parse(sealed.line).annotations)).toEqual(['__proto__', 'audit.k8s.io/a', PREVIOUS_ANNOTATION, CHAIN_ANNOTATION]);
    expect(checkLine(Buffer.from(sealed.line), GENESIS, true)).toEqual({ ok: true, hash: sealed.hash });
    expect(() => sealEvent({ annotations: {} }, 'not a hash')).toThrow(/previous hash must be 64 hex digits/);
  });
});

describe('verifying a file', () => {
  it('an intact file verifies, and an empty one is 0 lines', async () => {
    const lines = sealedLines(5);
    expect(await verifyAuditLog(await writeLog(lines))).toEqual({ ok: true, lines: 5, lastHash: sealedHash(lines[4]!) });
    expect(await verifyAuditLog(await writeLog([]))).toEqual({ ok: true, lines: 0, lastHash: GENESIS });
  });

  it('an edited line fails at itself, whatever was edited', async () => {
    const lines = sealedLines(5);
    const edits: Array<(line: string) => string> = [
      (line) => line.replace('"verb":"get"', '"verb":"delete"'),
      (line) => line.replace('"verb":"get"', '"verb": "get"'), // whitespace only: still different bytes
      (line) => line.replace(/"audit\.photoncloud\.io\/chain":"[0-9a-f]/, (match) => match.slice(0, -1) + (match.endsWith('0') ? '1' : '0')),
      (line) => line.replace(/"audit\.photoncloud\.io\/chain-previous":"[0-9a-f]/, (match) => match.slice(0, -1) + (match.endsWith('0') ? '1' : '0')),
      (line) => line.slice(0, -1), // the closing brace: no longer ends with the chain
    ];
    for (const edit of edits) {
      const tampered = [...lines];
      tampered[2] = edit(tampered[2]!);
      expect(tampered[2]).not.toBe(lines[2]);
      const result = await verifyAuditLog(await writeLog(tampered));
      expect(result).toMatchObject({ ok: false, line: 3 });
    }
    const tampered = [...lines];
    tampered[2] = tampered[2]!.replace('"verb":"get"', '"verb":"delete"');
    expect(await verifyAuditLog(await writeLog(tampered))).toEqual({ ok: false, line: 3, reason: 'its content does not match its hash: the line was edited' });
  });

  it('a deleted line fails at the line after the gap; reordered and duplicated lines fail where the order breaks', async () => {
    const lines = sealedLines(5);
    const deleted = await verifyAuditLog(await writeLog([lines[0]!, lines[1]!, lines[3]!, lines[4]!]));
    expect(deleted).toEqual({ ok: false, line: 3, reason: 'it does not follow the line before it: a line was removed, inserted or reordered just before it' });
    expect(await verifyAuditLog(await writeLog([lines[0]!, lines[2]!, lines[1]!, lines[3]!, lines[4]!]))).toMatchObject({ ok: false, line: 2 });
    expect(await verifyAuditLog(await writeLog([lines[0]!, lines[1]!, lines[1]!, lines[2]!]))).toMatchObject({ ok: false, line: 3 });
    // A line from another, valid log inserted in the middle.
    expect(await verifyAuditLog(await writeLog([lines[0]!, sealedLines(1)[0]!, lines[1]!]))).toMatchObject({ ok: false, line: 2 });
  });

  it('a file that lost its first lines fails at its new first line', async () => {
    const lines = sealedLines(4);
    expect(await verifyAuditLog(await writeLog(lines.slice(1)))).toEqual({ ok: false, line: 1, reason: 'it does not start the chain: lines before it were removed (or the file is a fragment)' });
  });

  it('a cut-short last line, blank lines and foreign lines are named', async () => {
    const lines = sealedLines(3);
    const torn = await writeLog([lines[0]!, lines[1]!, lines[2]!.slice(0, 40)], '');
    expect(await verifyAuditLog(torn)).toEqual({ ok: false, line: 3, reason: expect.stringMatching(/^incomplete last line/) });
    expect(await verifyAuditLog(await writeLog([lines[0]!, '', lines[1]!]))).toEqual({ ok: false, line: 2, reason: 'empty line' });
    expect(await verifyAuditLog(await writeLog([lines[0]!, '{"kind":"Event"}']))).toMatchObject({ ok: false, line: 2, reason: expect.stringMatching(/^no chain hash/) });
  });

  it('lines cut off the end go unnoticed by the chain alone (only an anchor kept elsewhere shows it)', async () => {
    const lines = sealedLines(4);
    const result = await verifyAuditLog(await writeLog(lines.slice(0, 2)));
    expect(result).toEqual({ ok: true, lines: 2, lastHash: sealedHash(lines[1]!) });
    // The anchor: the last hash recorded elsewhere no longer matches.
    expect((result as { lastHash: string }).lastHash).not.toBe(sealedHash(lines[3]!));
  });

  it('verifies lines longer than a read chunk (64 KiB), split across reads', async () => {
    let previous = GENESIS;
    const lines = [0, 1, 2].map((index) => {
      const sealed = sealEvent({ index, big: 'x'.repeat(150_000 + index), annotations: {} } as { annotations: Record<string, string> }, previous);
      previous = sealed.hash;
      return sealed.line;
    });
    expect(await verifyAuditLog(await writeLog(lines))).toMatchObject({ ok: true, lines: 3 });
  });
});
