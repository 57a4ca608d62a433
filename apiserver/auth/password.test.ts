import { describe, expect, it } from '@jest/globals';
import { hashPassword, verifyPassword } from './password.ts';

describe('password hashes', () => {
  it('are scrypt$N$r$p$salt$hash, salted (equal passwords hash differently) and verify only the right password', async () => {
    const first = await hashPassword('correct horse battery staple');
    const second = await hashPassword('correct horse battery staple');
    expect(first).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    expect(first).not.toBe(second);
    expect(first).not.toContain('horse');
    await expect(verifyPassword('correct horse battery staple', first)).resolves.toBe(true);
    await expect(verifyPassword('correct horse battery stapler', first)).resolves.toBe(false);
  });

  it('refuse hashes in another format or with costs out of bounds (no gigabyte allocations from a stored value)', async () => {
    const valid = await hashPassword('secret-password');
    const [, , r, p, salt, hash] = valid.split('$');
    await expect(verifyPassword('secret-password', `scrypt$${1 << 24}$${r}$${p}$${salt}$${hash}`)).resolves.toBe(false);
    await expect(verifyPassword('secret-password', `scrypt$1000$${r}$${p}$${salt}$${hash}`)).resolves.toBe(false);
    await expect(verifyPassword('secret-password', `bcrypt$${salt}$${hash}`)).resolves.toBe(false);
    await expect(verifyPassword('secret-password', '')).resolves.toBe(false);
  });
});
