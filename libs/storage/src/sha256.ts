import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Read at a time (as a stream would); a file smaller than this costs one open, one read and one close. */
const CHUNK = 64 * 1024;

export function sha256Buffer(buf: Buffer | string): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Hex SHA-256 of a file and its size, read in chunks so model files need not fit in memory. */
export async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  const file = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await file.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      bytes += bytesRead;
      // A regular file reads short only at its end: no read is spent to learn that.
      if (bytesRead < CHUNK) break;
    }
    return { sha256: hash.digest('hex'), bytes };
  } finally {
    await file.close();
  }
}

export async function sha256File(path: string): Promise<string> {
  return (await hashFile(path)).sha256;
}
