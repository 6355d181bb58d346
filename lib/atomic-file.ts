/**
 * Writing whole files atomically, for checkpoints (lib/checkpoint.ts), model files
 * (lib/model) and the CLI's result files: a temporary file in the destination's directory,
 * written and fsynced, then renamed over the destination, then the directory fsynced. A crash
 * or a failed write leaves either the previous file or the new one, never a mixture.
 *
 * A temporary file is named `.<name>.<pid>.<8 hex digits>.tmp`; one a killed process left
 * behind is removed by the next write of the same destination (removeStaleTemporaries).
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The temporary file a write of `target` (absolute) by this process uses. */
export function temporaryPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** fsync of a directory, where the platform and file system allow it. */
export async function fsyncDirectory(dir: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(dir, 'r');
    await handle.sync();
  } catch (e) {
    // Some platforms and file systems cannot fsync a directory (EISDIR, EINVAL, EPERM on Windows):
    // the rename is then as durable as the OS makes it.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF' && code !== 'ENOTSUP') throw e;
  } finally {
    await handle?.close();
  }
}

const escapeRegExp = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether process `pid` exists (process.kill(pid, 0): ESRCH means it does not; EPERM that it does, as another user's). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes the temporary files that killed writes of `target` left next to it
 * (.<name>.<pid>.<hex>.tmp whose pid is no live process). Never those of this process (a write
 * may be in progress) or of a live one (pids can be reused, so a live pid is always kept); never
 * other files. Best effort: errors are ignored. Returns the files removed.
 */
export async function removeStaleTemporaries(target: string): Promise<string[]> {
  const abs = path.resolve(target);
  const dir = path.dirname(abs);
  const pattern = new RegExp(`^\\.${escapeRegExp(path.basename(abs))}\\.(\\d+)\\.[0-9a-f]{8}\\.tmp$`);
  const removed: string[] = [];
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = pattern.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || processAlive(pid)) continue;
    const file = path.join(dir, name);
    try {
      const st = await fs.promises.lstat(file);
      if (!st.isFile()) continue;
      await fs.promises.unlink(file);
      removed.push(file);
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

/**
 * Refuses a destination that exists and is a directory or another non-regular file (the rename
 * would fail after the temporary file was written, or replace a device or a socket).
 * @throws Error `${prefix}: FILE: …`.
 */
export function checkDestinationKind(prefix: string, file: string): void {
  const target = path.resolve(file);
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch {
    return; // absent: it will be created
  }
  if (st.isDirectory()) throw new Error(`${prefix}: ${file}: is a directory; give the name of a file (in it or elsewhere)`);
  if (!st.isFile()) throw new Error(`${prefix}: ${file}: '${target}' exists and is not a regular file`);
}

/**
 * Checks, before long work, that `file` can be written atomically: its directory exists and is a
 * directory, `file` is not a directory (nor another non-regular file), and a file can be created
 * in the directory (a probe temporary file is created and removed). Returns the absolute path.
 * @throws Error `${prefix}: FILE: …` saying what is wrong.
 */
export async function checkWritableDestination(prefix: string, file: string): Promise<string> {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  const bad = (what: string): never => {
    throw new Error(`${prefix}: ${file}: ${what}`);
  };
  let dirStat: fs.Stats | undefined;
  try {
    dirStat = await fs.promises.stat(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') bad(`no such directory '${dir}'`);
    if (code === 'ENOTDIR') bad(`'${dir}' is not a directory (a part of the path is a file)`);
    bad(`cannot use the directory '${dir}' (${(e as Error).message})`);
  }
  if (dirStat?.isDirectory() !== true) bad(`'${dir}' is not a directory`);
  checkDestinationKind(prefix, file);
  const probe = temporaryPathFor(target);
  try {
    const handle = await fs.promises.open(probe, 'wx', 0o644);
    await handle.close();
  } catch (e) {
    bad(`cannot write in the directory '${dir}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  } finally {
    await fs.promises.unlink(probe).catch(() => undefined);
  }
  return target;
}

/**
 * Writes `data` to `file` atomically (see above), after removing the temporary files killed
 * writes of `file` left.
 * @throws the file system's error; the previous `file`, if any, is left whole.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const target = path.resolve(file);
  await removeStaleTemporaries(target);
  const temp = temporaryPathFor(target);
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(temp, 'wx', 0o644);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.promises.rename(temp, target);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await fs.promises.unlink(temp).catch(() => undefined);
    throw e;
  }
  await fsyncDirectory(path.dirname(target));
}
