import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from './errors.js';

const LOCK_FILE = 'routeplex.lock';

/**
 * Takes the embedded database folder for this process. PGlite is a single-process database: a second
 * process that opens the same folder (a CLI command while `routeplex start` runs) works on its own copy in
 * memory, which the first never sees, and the two overwrite each other's files. The lock is a file holding
 * the owner's pid; a lock whose process is gone (killed, crashed) is taken over. Returns its release.
 */
export function lockFolder(dir: string): () => void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw lockError(dir, error);
  }
  const path = join(dir, LOCK_FILE);
  const mine = String(process.pid);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, mine, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw lockError(dir, error);
      const owner = Number.parseInt(readOrEmpty(path), 10);
      if (Number.isInteger(owner) && owner > 0 && isRunning(owner))
        throw new StoreError(
          'FAILED_PRECONDITION',
          'EMBEDDED_DATABASE_UNAVAILABLE',
          `the embedded database in ${dir} is open in process ${owner}${owner === process.pid ? ' (this one)' : ''}: ` +
            'stop that process (routeplex start) first, or use PostgreSQL (DATABASE_URL) to share one database between processes',
        );
      rmIfPresent(path);
    }
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (readOrEmpty(path) === mine) rmIfPresent(path);
  };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function rmIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function lockError(dir: string, cause: unknown): StoreError {
  return new StoreError(
    'UNAVAILABLE',
    'EMBEDDED_DATABASE_UNAVAILABLE',
    `cannot open the embedded database folder ${dir}: make sure it is a writable folder`,
    { cause },
  );
}
