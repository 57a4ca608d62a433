// JSON-RPC framing for OVSDB (RFC 7047 §4): messages are JSON texts written back to back on a stream with no
// length prefix or delimiter. JsonStreamParser finds the end of each top-level object/array incrementally
// (tracking nesting depth outside of strings, and backslash escapes inside them), so a message split across
// any number of reads, or several messages in one read, come out whole and in order. Bytes are decoded with a
// streaming UTF-8 decoder so a multi-byte character split across two reads is not corrupted.
import { StringDecoder } from 'node:string_decoder';

export class OvsdbFramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OvsdbFramingError';
  }
}

export interface JsonStreamParserOptions {
  /** Upper bound for one message (characters); a peer sending more is treated as broken. Default 64 MiB. */
  maxMessageChars?: number;
}

export class JsonStreamParser {
  private readonly decoder = new StringDecoder('utf8');
  private readonly maxMessageChars: number;
  /** Pieces of the message being assembled, from earlier reads (joined once, when it completes). */
  private parts: string[] = [];
  private partsLength = 0;
  private inMessage = false;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(options: JsonStreamParserOptions = {}) {
    this.maxMessageChars = options.maxMessageChars ?? 64 * 1024 * 1024;
  }

  /** Feeds bytes (or text) from the stream; returns every message completed by them, in order. */
  push(chunk: Buffer | string): unknown[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const messages: unknown[] = [];
    // Each character is looked at once: the scan state survives between reads, and a message split across
    // reads is kept as pieces and joined only when complete (linear in the message size).
    let segmentStart = 0;
    const length = text.length;
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c /* \ */) this.escaped = true;
        else if (c === 0x22 /* " */) this.inString = false;
        continue;
      }
      if (!this.inMessage) {
        // Between messages only whitespace may appear; a message must be an object or an array.
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
        if (c !== 0x7b /* { */ && c !== 0x5b /* [ */) {
          throw new OvsdbFramingError(`unexpected ${JSON.stringify(text[i])} between JSON-RPC messages`);
        }
        this.inMessage = true;
        this.depth = 1;
        segmentStart = i;
        continue;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b || c === 0x5b) this.depth++;
      else if ((c === 0x7d /* } */ || c === 0x5d) /* ] */ && --this.depth === 0) {
        const tail = text.slice(segmentStart, i + 1);
        const body = this.parts.length > 0 ? this.parts.join('') + tail : tail;
        this.parts = [];
        this.partsLength = 0;
        this.inMessage = false;
        try {
          messages.push(JSON.parse(body));
        } catch (error) {
          throw new OvsdbFramingError(`malformed JSON-RPC message: ${(error as Error).message}`);
        }
      }
    }
    if (this.inMessage) {
      const rest = text.slice(segmentStart);
      this.parts.push(rest);
      this.partsLength += rest.length;
      if (this.partsLength > this.maxMessageChars) {
        throw new OvsdbFramingError(`JSON-RPC message larger than ${this.maxMessageChars} characters`);
      }
    }
    return messages;
  }

  /** True when a message has been started but not finished (data would be lost if the stream ended now). */
  get pending(): boolean {
    return this.inMessage;
  }

  reset(): void {
    this.decoder.end();
    this.parts = [];
    this.partsLength = 0;
    this.inMessage = false;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
  }
}
