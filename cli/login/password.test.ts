import { describe, expect, it } from '@jest/globals';
import { PassThrough, Readable } from 'node:stream';
import { PromptInterrupted, promptPassword, readPasswordFromStream } from './password.ts';

describe('readPasswordFromStream', () => {
  it('takes the first line of stdin, without its newline (echo adds one, Windows editors \\r\\n)', async () => {
    expect(await readPasswordFromStream(Readable.from([Buffer.from('s3cret pass\n')]))).toBe('s3cret pass');
    expect(await readPasswordFromStream(Readable.from([Buffer.from('s3cret\r\n')]))).toBe('s3cret');
    expect(await readPasswordFromStream(Readable.from([Buffer.from('no-newline')]))).toBe('no-newline');
    expect(await readPasswordFromStream(Readable.from([Buffer.from('fir'), Buffer.from('st\nsecond\n')]))).toBe('first');
    expect(await readPasswordFromStream(Readable.from([]))).toBe('');
  });
});

/** A terminal stand-in: raw mode is recorded, typed keys are written into it. */
function terminal() {
  const input = Object.assign(new PassThrough(), { isTTY: true, raw: [] as boolean[], setRawMode(mode: boolean) { input.raw.push(mode); return input; } });
  const output = new PassThrough();
  let shown = '';
  output.on('data', (chunk) => (shown += chunk));
  return { input, output, shown: () => shown };
}

describe('promptPassword', () => {
  it('reads keys in raw mode without echoing them; backspace edits, Enter ends, raw mode is restored', async () => {
    const tty = terminal();
    const answer = promptPassword(tty.input, tty.output, 'Password: ');
    tty.input.write('hunter3\u007f2x\b');
    tty.input.write('\r');
    expect(await answer).toBe('hunter2');
    expect(tty.shown()).toBe('Password: \n');
    expect(tty.input.raw).toEqual([true, false]);
  });

  it('Ctrl-C aborts with PromptInterrupted and restores the terminal', async () => {
    const tty = terminal();
    const answer = promptPassword(tty.input, tty.output, 'Password: ');
    tty.input.write('abc\u0003');
    await expect(answer).rejects.toBeInstanceOf(PromptInterrupted);
    expect(tty.input.raw).toEqual([true, false]);
  });
});
