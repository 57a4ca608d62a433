// Durability helpers for files made under a temporary name and renamed into place.
import fs from 'node:fs/promises';

/** Flushes a file's data to disk before it is renamed into place. */
export async function fsyncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes renames in dir durable, so a power cut never brings back a temporary name or loses a final one. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
