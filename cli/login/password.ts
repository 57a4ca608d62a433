// Where `photon login` gets the password: never from a flag (it would sit in shell history and in every
// process listing). On a terminal, a prompt without echo; otherwise stdin, so scripts can pipe it in.
import type { Readable, Writable } from 'node:stream';

/** More than any password the server accepts (1024 characters); stdin beyond it is not read. */
const MAX_STDIN_BYTES = 8192;

/** The first line of a piped stdin (`echo pw | photon login …` adds the newline, which is not the password's). */
export async function readPasswordFromStream(input: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    chunks.push(buffer);
    size += buffer.length;
    if (size > MAX_STDIN_BYTES || buffer.includes(0x0a)) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const newline = text.indexOf('\n');
  return (newline >= 0 ? text.slice(0, newline) : text).replace(/\r$/, '');
}

/** Ctrl-C at the prompt (raw mode turns it into a character, not SIGINT). */
export class PromptInterrupted extends Error {}

interface RawTerminal extends Readable {
  isTTY?: boolean;
  setRawMode(mode: boolean): unknown;
}

/** Asks on the terminal with echo off (raw mode); backspace edits, Ctrl-C aborts, Enter ends. */
export function promptPassword(input: RawTerminal, output: Writable, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let password = '';
    output.write(prompt);
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.resume();
    const finish = (error?: Error) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(password);
    };
    const onData = (text: string) => {
      for (const char of text) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003') return finish(new PromptInterrupted('interrupted'));
        if (char === '\u0004' && password === '') return finish();
        if (char === '\u007f' || char === '\b') password = [...password].slice(0, -1).join('');
        else if (char >= ' ') password += char;
      }
    };
    input.on('data', onData);
  });
}

export async function readPassword(prompt: string): Promise<string> {
  const stdin = process.stdin as unknown as RawTerminal;
  if (stdin.isTTY) return promptPassword(stdin, process.stderr, prompt);
  return readPasswordFromStream(process.stdin);
}
