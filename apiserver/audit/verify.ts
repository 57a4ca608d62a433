// Verifies an audit log file's hash chain line by line (streamed: a file of any size in constant memory) and
// names the first line that breaks it. `photon audit verify FILE` prints the result.
import fs from 'node:fs';
import { checkLine, GENESIS } from './chain.ts';

export type VerifyResult = { ok: true; lines: number; lastHash: string } | { ok: false; line: number; reason: string };

export async function verifyAuditLog(file: string): Promise<VerifyResult> {
  let previous = GENESIS;
  let lineNumber = 0;
  let pending: Buffer[] = [];
  const check = (bytes: Buffer): VerifyResult | undefined => {
    lineNumber++;
    const result = checkLine(bytes, previous, lineNumber === 1);
    if (!result.ok) return { ok: false, line: lineNumber, reason: result.reason };
    previous = result.hash;
    return undefined;
  };
  for await (const chunk of fs.createReadStream(file) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let newline = chunk.indexOf(0x0a); newline !== -1; newline = chunk.indexOf(0x0a, start)) {
      pending.push(chunk.subarray(start, newline));
      const failure = check(pending.length === 1 ? pending[0]! : Buffer.concat(pending));
      if (failure) return failure;
      pending = [];
      start = newline + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length > 0) {
    // The server writes each line with its newline in one write; a crash can still cut one short. The server
    // sets such a tail aside when it next starts (see log-file.ts), so this is what a crash left, or an edit.
    return { ok: false, line: lineNumber + 1, reason: 'incomplete last line (no newline at its end): a write was cut short by a crash, or the line was edited' };
  }
  return { ok: true, lines: lineNumber, lastHash: previous };
}
