// The hash chain that makes the audit log tamper-evident. Every line is one JSON event whose last two
// annotations are, in this order and at the very end of the line:
//
//   "audit.photoncloud.io/chain-previous":"<hex>"   the previous line's hash (GENESIS on a file's first line)
//   "audit.photoncloud.io/chain":"<hex>"            this line's hash
//
// hash = sha256(previous hash as hex text + the line's bytes with its own hash replaced by 64 zeros). Each
// line can therefore be checked on its own (an edited line fails at itself) and against its predecessor (a
// removed, inserted or reordered line makes the first line after the gap fail). The hash sits at a fixed
// place, the end of the line, so the verifier needs no canonical JSON: it hashes the bytes as written.
// JSON.stringify escapes every quote inside strings, so no field value can fake that ending.
//
// What a chain cannot show: lines cut off the end of the file (nothing follows them to notice), nor a file
// rewritten from some line on by someone who recomputes every later hash (the hash is not keyed). Both need an
// anchor kept elsewhere, e.g. the last line's hash copied off the machine.
import { createHash, hash as oneShotHash } from 'node:crypto';

export const CHAIN_ANNOTATION = 'audit.photoncloud.io/chain';
export const PREVIOUS_ANNOTATION = 'audit.photoncloud.io/chain-previous';
/** What a file's first line chains from. */
export const GENESIS = createHash('sha256').update('photoncloud.io audit log v1').digest('hex');
const ZERO = '0'.repeat(64);
/** The end of every sealed line: the two chain annotations, closing annotations and the event. */
const SEALED_ENDING = /"audit\.photoncloud\.io\/chain-previous":"([0-9a-f]{64})","audit\.photoncloud\.io\/chain":"([0-9a-f]{64})"\}\}$/;
/** Bytes after the hash: `"}}`. */
const AFTER_HASH = 3;

function chainHash(previous: string, zeroedLine: Buffer | string): string {
  // A sealed line is hashed once per request: one-shot over the joined text (a Hash object took half again as long).
  if (typeof zeroedLine === 'string') return oneShotHash('sha256', previous + zeroedLine, 'hex');
  return createHash('sha256').update(previous).update(zeroedLine).digest('hex');
}

const HEX_HASH = /^[0-9a-f]{64}$/;

/**
 * Serialises an event as a sealed line (no newline) chained to `previous`. The event's last key must be
 * `annotations` (the caller builds it so); the chain annotations are added last within it.
 */
export function sealEvent(event: { annotations: Record<string, string> }, previous: string): { line: string; hash: string } {
  if (!HEX_HASH.test(previous)) throw new Error('audit event: the previous hash must be 64 hex digits');
  // A copy without the chain's own keys, built by adding (deleting keys would make it a slow dictionary for
  // JSON.stringify), so the two chain annotations are always the last. No prototype: a key `__proto__` is a key.
  const annotations = Object.create(null) as Record<string, string>;
  for (const key of Object.keys(event.annotations)) {
    if (key !== PREVIOUS_ANNOTATION && key !== CHAIN_ANNOTATION) annotations[key] = event.annotations[key]!;
  }
  annotations[PREVIOUS_ANNOTATION] = previous;
  annotations[CHAIN_ANNOTATION] = ZERO;
  const zeroed = JSON.stringify({ ...event, annotations });
  // The line must end in exactly the chain annotations; keys and hex need no escaping, so this is the text.
  if (!zeroed.endsWith(`"${PREVIOUS_ANNOTATION}":"${previous}","${CHAIN_ANNOTATION}":"${ZERO}"}}`)) throw new Error('audit event: annotations must be the last field');
  const hash = chainHash(previous, zeroed);
  return { line: zeroed.slice(0, zeroed.length - ZERO.length - AFTER_HASH) + hash + zeroed.slice(zeroed.length - AFTER_HASH), hash };
}

/** The hash a sealed line carries (its own), or undefined when the line is not a sealed event. */
export function sealedHash(line: string): string | undefined {
  return SEALED_ENDING.exec(line)?.[2];
}

export type LineCheck = { ok: true; hash: string } | { ok: false; reason: string };

/**
 * Checks one line (its bytes, without the newline) given the hash of the line before it (GENESIS for the
 * first). Says why it fails: not an event, edited, or not following its predecessor.
 */
export function checkLine(bytes: Buffer, previous: string, first: boolean): LineCheck {
  if (bytes.length === 0) return { ok: false, reason: 'empty line' };
  const text = bytes.toString('utf8');
  const sealed = SEALED_ENDING.exec(text);
  if (!sealed) return { ok: false, reason: `no chain hash at the end of the line (annotation ${CHAIN_ANNOTATION}): not a line this server wrote, or it was edited` };
  let event: { annotations?: Record<string, unknown> };
  try {
    event = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not valid JSON: the line was edited' };
  }
  const [, recordedPrevious, own] = sealed as unknown as [string, string, string];
  if (event.annotations?.[CHAIN_ANNOTATION] !== own) return { ok: false, reason: 'its chain annotation was altered' };
  const zeroed = Buffer.from(bytes);
  zeroed.fill('0', bytes.length - AFTER_HASH - ZERO.length, bytes.length - AFTER_HASH);
  if (chainHash(recordedPrevious, zeroed) !== own) return { ok: false, reason: 'its content does not match its hash: the line was edited' };
  if (recordedPrevious !== previous) {
    return {
      ok: false,
      reason: first
        ? 'it does not start the chain: lines before it were removed (or the file is a fragment)'
        : 'it does not follow the line before it: a line was removed, inserted or reordered just before it',
    };
  }
  return { ok: true, hash: own };
}
