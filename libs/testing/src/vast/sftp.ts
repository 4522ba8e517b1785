import { chmodSync, closeSync, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmdirSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import { utils, type Attributes, type SFTPWrapper } from 'ssh2';

const { STATUS_CODE, flagsToString } = utils.sftp;

const attrs = (s: Stats): Attributes => ({ mode: s.mode, uid: s.uid, gid: s.gid, size: s.size, atime: Math.floor(s.atimeMs / 1000), mtime: Math.floor(s.mtimeMs / 1000) });

/**
 * The file operations an SFTP client uses to copy files onto a host and check them (open, read, write, stat, chmod,
 * mkdir, readdir, remove, rename, realpath), on the real file system; relative paths start at `home`, as sftp-server's do.
 */
export function serveSftp(sftp: SFTPWrapper, home: string): void {
  const handles = new Map<number, { fd: number } | { dir: string; names: string[] | null }>();
  let nextHandle = 0;
  const path = (p: string) => resolve(home, p);
  const open = (value: { fd: number } | { dir: string; names: string[] | null }) => {
    const h = Buffer.alloc(4);
    h.writeUInt32BE(nextHandle);
    handles.set(nextHandle++, value);
    return h;
  };
  const lookup = (h: Buffer) => (h.length === 4 ? handles.get(h.readUInt32BE(0)) : undefined);
  const fd = (h: Buffer) => {
    const v = lookup(h);
    if (!v || !('fd' in v)) throw Object.assign(new Error('invalid handle'), { code: 'EBADF' });
    return v.fd;
  };
  const run = (id: number, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      sftp.status(id, code === 'ENOENT' ? STATUS_CODE.NO_SUCH_FILE : code === 'EACCES' || code === 'EPERM' ? STATUS_CODE.PERMISSION_DENIED : STATUS_CODE.FAILURE, (err as Error).message);
    }
  };
  const done = (id: number) => sftp.status(id, STATUS_CODE.OK);

  sftp.on('OPEN', (id, filename, flags, a) => run(id, () => sftp.handle(id, open({ fd: openSync(path(filename), flagsToString(flags) ?? 'r', a?.mode ?? 0o644) }))));
  sftp.on('READ', (id, h, offset, len) =>
    run(id, () => {
      const buf = Buffer.alloc(len);
      const n = readSync(fd(h), buf, 0, len, offset);
      if (n === 0) sftp.status(id, STATUS_CODE.EOF);
      else sftp.data(id, buf.subarray(0, n));
    }),
  );
  sftp.on('WRITE', (id, h, offset, data) => run(id, () => (writeSync(fd(h), data, 0, data.length, offset), done(id))));
  sftp.on('FSTAT', (id, h) => run(id, () => sftp.attrs(id, attrs(fstatSync(fd(h))))));
  sftp.on('FSETSTAT', (id, h, a) => run(id, () => (a?.mode !== undefined && fchmodSync(fd(h), a.mode), done(id))));
  sftp.on('CLOSE', (id, h) =>
    run(id, () => {
      const v = lookup(h);
      if (!v) throw new Error('invalid handle');
      if ('fd' in v) closeSync(v.fd);
      handles.delete(h.readUInt32BE(0));
      done(id);
    }),
  );
  sftp.on('OPENDIR', (id, p) => run(id, () => (readdirSync(path(p)), sftp.handle(id, open({ dir: path(p), names: null })))));
  sftp.on('READDIR', (id, h) =>
    run(id, () => {
      const v = lookup(h);
      if (!v || !('dir' in v)) throw new Error('invalid handle');
      // The whole listing goes in the first answer; the next one says EOF.
      if (v.names) return sftp.status(id, STATUS_CODE.EOF);
      v.names = readdirSync(v.dir);
      sftp.name(id, v.names.map((filename) => ({ filename, longname: filename, attrs: attrs(lstatSync(join(v.dir, filename))) })));
    }),
  );
  sftp.on('STAT', (id, p) => run(id, () => sftp.attrs(id, attrs(statSync(path(p))))));
  sftp.on('LSTAT', (id, p) => run(id, () => sftp.attrs(id, attrs(lstatSync(path(p))))));
  sftp.on('SETSTAT', (id, p, a) => run(id, () => (a?.mode !== undefined && chmodSync(path(p), a.mode), done(id))));
  sftp.on('MKDIR', (id, p, a) => run(id, () => (mkdirSync(path(p), a?.mode ?? 0o755), done(id))));
  sftp.on('RMDIR', (id, p) => run(id, () => (rmdirSync(path(p)), done(id))));
  sftp.on('REMOVE', (id, p) => run(id, () => (unlinkSync(path(p)), done(id))));
  sftp.on('RENAME', (id, from, to) => run(id, () => (renameSync(path(from), path(to)), done(id))));
  sftp.on('REALPATH', (id, p) => run(id, () => sftp.name(id, [{ filename: path(p), longname: path(p), attrs: {} as Attributes }])));
  sftp.on('close', () => {
    for (const v of handles.values()) if ('fd' in v) closeSync(v.fd);
    handles.clear();
  });
}
