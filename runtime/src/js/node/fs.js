// isoproxy node compat: node:fs and node:fs/promises over an in-memory
// file system laid out as workerd's: `/bundle` holds the Worker's modules
// (read-only, one file per module, as configured), `/tmp` is writable and
// private to each request (and to start-up): it starts empty and is gone
// when the request ends, and `/dev` has null, zero, full and random.
// https://developers.cloudflare.com/workers/runtime-apis/nodejs/fs/
// Sync, callback and promise forms share one implementation (the sync
// one); file descriptors are per isolate, closed with their request.
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const ops = internal.ops;
  const {
    Date, Error, Map, Math, TypeError, Uint8Array, ArrayPrototypeJoin, ArrayPrototypePush, DateNow, MathMin,
    PromiseReject, PromiseResolve, SafeMap, TypedArrayPrototypeSet, TypedArrayPrototypeSubarray, uncurryThis,
  } = internal.primordials;
  const StringPrototypeSplit = uncurryThis(String.prototype.split);

  // errno values as Linux has them (Node reports them negated).
  const ERRNO = { __proto__: null, ENOENT: 2, EBADF: 9, EACCES: 13, EEXIST: 17, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENOSPC: 28, EROFS: 30, ENOTEMPTY: 39, EPERM: 1, ENOSYS: 38, EXDEV: 18 };
  const TEXT = { __proto__: null, ENOENT: "no such file or directory", EBADF: "bad file descriptor", EACCES: "permission denied", EEXIST: "file already exists", ENOTDIR: "not a directory", EISDIR: "illegal operation on a directory", EINVAL: "invalid argument", ENOSPC: "no space left on device", EROFS: "read-only file system", ENOTEMPTY: "directory not empty", EPERM: "operation not permitted", ENOSYS: "function not implemented", EXDEV: "cross-device link not permitted" };

  function fsError(code, syscall, path, dest) {
    // workerd's form: "no such file or directory, open '/x'" (Node puts
    // "ENOENT: " in front).
    let msg = `${TEXT[code]}, ${syscall}`;
    if (path !== undefined) msg += ` '${path}'`;
    if (dest !== undefined) msg += ` -> '${dest}'`;
    const e = new Error(msg);
    e.errno = -ERRNO[code];
    e.code = code;
    e.syscall = syscall;
    if (path !== undefined) e.path = path;
    if (dest !== undefined) e.dest = dest;
    return e;
  }

  const constants = {
    __proto__: null,
    F_OK: 0, R_OK: 4, W_OK: 2, X_OK: 1,
    O_RDONLY: 0, O_WRONLY: 1, O_RDWR: 2, O_CREAT: 64, O_EXCL: 128, O_NOCTTY: 256, O_TRUNC: 512, O_APPEND: 1024,
    O_DIRECTORY: 65536, O_NOFOLLOW: 131072, O_SYNC: 1052672, O_DSYNC: 4096, O_NONBLOCK: 2048,
    S_IFMT: 61440, S_IFREG: 32768, S_IFDIR: 16384, S_IFCHR: 8192, S_IFLNK: 40960,
    COPYFILE_EXCL: 1, COPYFILE_FICLONE: 2, COPYFILE_FICLONE_FORCE: 4,
    UV_DIRENT_UNKNOWN: 0, UV_DIRENT_FILE: 1, UV_DIRENT_DIR: 2, UV_DIRENT_CHAR: 6,
  };

  // -- the tree -------------------------------------------------------------
  // A node: { kind: "file" | "dir" | "dev", readOnly, data (file), entries
  // (dir: Map of name -> node), dev (device name), times }.
  let nextIno = 1;
  function node(kind, readOnly) {
    const now = DateNow();
    return { kind, readOnly, ino: nextIno++, data: kind === "file" ? new Uint8Array(0) : null, entries: kind === "dir" ? new SafeMap() : null, dev: null, atime: now, mtime: now, ctime: now, birthtime: now };
  }
  let bundle = null;
  const devices = node("dir", true);
  for (const name of ["null", "zero", "full", "random"]) {
    const d = node("dev", false);
    d.dev = name;
    devices.entries.set(name, d);
  }
  // `/tmp` of each request (key: request id; -1: start-up), made on first use.
  const tmps = new SafeMap();
  // Descriptors opened by each request, closed when it ends.
  const fdsOf = new SafeMap();
  const current = () => ops.request_current();

  function bundleDir() {
    if (bundle !== null) return bundle;
    bundle = node("dir", true);
    const files = ops.node_fs_bundle();
    for (let i = 0; i < files.length; i++) {
      const [name, bytes] = files[i];
      // A module named "a/b.js" is /bundle/a/b.js.
      const parts = StringPrototypeSplit(name, "/");
      let dir = bundle;
      for (let j = 0; j < parts.length - 1; j++) {
        if (parts[j] === "" || parts[j] === ".") continue;
        let next = dir.entries.get(parts[j]);
        if (next === undefined) { next = node("dir", true); dir.entries.set(parts[j], next); }
        if (next.kind !== "dir") break;
        dir = next;
      }
      const f = node("file", true);
      f.data = bytes;
      // As in workerd, the bundle's files are dated 1970-01-01.
      f.atime = f.mtime = f.ctime = f.birthtime = 0;
      dir.entries.set(parts[parts.length - 1], f);
    }
    return bundle;
  }
  function tmpDir(create) {
    const id = current();
    let t = tmps.get(id);
    if (t === undefined && create) { t = node("dir", false); tmps.set(id, t); }
    return t;
  }
  // Called when a request ends: its /tmp and open files go.
  internal.fsRequestDone = (id) => {
    // Runs at the end of every request: nothing here may depend on
    // built-ins a Worker can patch.
    tmps.delete(id);
    const list = fdsOf.get(id);
    if (list === undefined) return;
    fdsOf.delete(id);
    for (let i = 0; i < list.length; i++) fds.delete(list[i]);
  };

  function root() {
    const r = node("dir", true);
    r.entries.set("bundle", bundleDir());
    r.entries.set("tmp", tmpDir(true));
    r.entries.set("dev", devices);
    return r;
  }

  function toPath(p, name = "path") {
    if (typeof p === "string") return p;
    if (p instanceof URL) {
      if (p.protocol !== "file:") throw internal.nodeError(TypeError, "ERR_INVALID_URL_SCHEME", "The URL must be of scheme file");
      return decodeURIComponent(p.pathname);
    }
    if (p instanceof Uint8Array) return new TextDecoder().decode(p);
    throw internal.invalidArgType(name, "of type string or an instance of Buffer or URL", p);
  }
  // Absolute, normalised path parts ("." and ".." resolved; a relative
  // path is relative to the working directory, `/bundle` unless
  // `process.chdir()` moved it, as in workerd).
  function parts(path) {
    const out = [];
    const full = path[0] === "/" ? path : `${internal.nodeCwd}/${path}`;
    const segs = StringPrototypeSplit(full, "/");
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i];
      if (s === "" || s === ".") continue;
      if (s === "..") out.pop(); else ArrayPrototypePush(out, s);
    }
    return out;
  }
  // Find the node at `path` (undefined if absent), with its parent and name.
  function lookup(path, syscall) {
    const ps = parts(path);
    let parent = null;
    let cur = root();
    for (let i = 0; i < ps.length; i++) {
      if (cur.kind !== "dir") throw fsError("ENOTDIR", syscall, path);
      parent = cur;
      cur = cur.entries.get(ps[i]);
      if (cur === undefined) {
        if (i < ps.length - 1) throw fsError("ENOENT", syscall, path);
        return { node: undefined, parent, name: ps[i] };
      }
    }
    return { node: cur, parent, name: ps.length === 0 ? "" : ps[ps.length - 1] };
  }
  function existing(path, syscall) {
    const r = lookup(path, syscall);
    if (r.node === undefined) throw fsError("ENOENT", syscall, path);
    return r.node;
  }
  function writableParent(r, path, syscall) {
    if (r.parent === null || r.parent.readOnly) throw fsError("EPERM", syscall, path);
  }

  // -- contents ---------------------------------------------------------------
  function readAll(n, path) {
    if (n.kind === "dir") throw fsError("EISDIR", "readAll", path);
    if (n.kind === "dev") return new Uint8Array(0);
    n.atime = DateNow();
    return n.data;
  }
  function encodingOf(options, fallback = undefined) {
    if (typeof options === "string") return options;
    if (options !== null && typeof options === "object" && options.encoding !== undefined && options.encoding !== null) return options.encoding;
    return fallback;
  }
  function bytesOf(data, encoding) {
    const { Buffer } = internal.requireBuiltin("node:buffer");
    if (typeof data === "string") return new Uint8Array(Buffer.from(data, encoding ?? "utf8"));
    const b = internal.toBytes(data);
    if (b === null) throw internal.invalidArgType("data", "of type string or an instance of Buffer, TypedArray, or DataView", data);
    return b;
  }
  function output(bytes, encoding) {
    const { Buffer } = internal.requireBuiltin("node:buffer");
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (encoding === undefined || encoding === "buffer") return Buffer.from(b);
    return b.toString(encoding);
  }
  function putData(path, data, flag, syscall) {
    const r = lookup(path, syscall);
    let n = r.node;
    if (n === undefined) {
      if (flag[0] === "r") throw fsError("ENOENT", syscall, path);
      writableParent(r, path, syscall);
      n = node("file", false);
      r.parent.entries.set(r.name, n);
    } else if (flag.includes("x")) {
      throw fsError("EEXIST", syscall, path);
    }
    if (n.kind === "dir") throw fsError("EISDIR", syscall, path);
    if (n.kind === "dev") {
      if (n.dev === "full") throw fsError("EPERM", syscall, path);
      return;
    }
    if (n.readOnly) throw fsError("EPERM", syscall, path);
    if (flag[0] === "a") {
      const joined = new Uint8Array(n.data.length + data.length);
      TypedArrayPrototypeSet(joined, n.data, 0);
      TypedArrayPrototypeSet(joined, data, n.data.length);
      n.data = joined;
    } else {
      n.data = new Uint8Array(data);
    }
    n.mtime = n.ctime = DateNow();
  }

  // -- Stats and Dirent -------------------------------------------------------
  class Stats {
    constructor(n) {
      const size = n.kind === "file" ? n.data.length : n.kind === "dir" ? 4096 : 0;
      const type = n.kind === "file" ? constants.S_IFREG : n.kind === "dir" ? constants.S_IFDIR : constants.S_IFCHR;
      this.dev = 0; this.ino = n.ino; this.mode = type | (n.readOnly ? 0o444 : 0o666) | (n.kind === "dir" ? 0o111 : 0);
      this.nlink = 1; this.uid = 0; this.gid = 0; this.rdev = 0; this.size = size; this.blksize = 4096;
      this.blocks = Math.ceil(size / 512);
      this.atimeMs = n.atime; this.mtimeMs = n.mtime; this.ctimeMs = n.ctime; this.birthtimeMs = n.birthtime;
      this.atime = new Date(n.atime); this.mtime = new Date(n.mtime); this.ctime = new Date(n.ctime); this.birthtime = new Date(n.birthtime);
    }
    isFile() { return (this.mode & constants.S_IFMT) === constants.S_IFREG; }
    isDirectory() { return (this.mode & constants.S_IFMT) === constants.S_IFDIR; }
    isCharacterDevice() { return (this.mode & constants.S_IFMT) === constants.S_IFCHR; }
    isBlockDevice() { return false; }
    isSymbolicLink() { return false; }
    isFIFO() { return false; }
    isSocket() { return false; }
  }
  class Dirent {
    #kind;
    constructor(name, parentPath, kind) { this.name = name; this.parentPath = parentPath; this.path = parentPath; this.#kind = kind; }
    isFile() { return this.#kind === "file"; }
    isDirectory() { return this.#kind === "dir"; }
    isCharacterDevice() { return this.#kind === "dev"; }
    isBlockDevice() { return false; }
    isSymbolicLink() { return false; }
    isFIFO() { return false; }
    isSocket() { return false; }
  }

  // -- file descriptors ---------------------------------------------------------
  const fds = new SafeMap();
  let nextFd = 3;
  function flagOf(flags) {
    if (flags === undefined || flags === null) return "r";
    if (typeof flags === "number") {
      const acc = flags & 3;
      let f = acc === 0 ? "r" : (flags & constants.O_APPEND ? "a" : "w");
      if (acc === 2) f += "+";
      if (flags & constants.O_EXCL) f += "x";
      if (acc !== 0 && !(flags & constants.O_CREAT) && !(flags & constants.O_APPEND)) f = acc === 2 ? "r+" : "r+";
      return f;
    }
    return `${flags}`;
  }
  function fileOf(fd, syscall) {
    const f = fds.get(fd);
    if (f === undefined) throw fsError("EBADF", syscall);
    return f;
  }

  // -- the sync API ---------------------------------------------------------------
  const sync = {
    existsSync(path) {
      try { return lookup(toPath(path), "access").node !== undefined; } catch { return false; }
    },
    accessSync(path, mode = constants.F_OK) {
      const p = toPath(path);
      const n = existing(p, "access");
      if ((mode & constants.W_OK) && n.readOnly) throw fsError("EACCES", "access", p);
    },
    statSync(path, options) {
      const p = toPath(path);
      const r = lookup(p, "stat");
      if (r.node === undefined) {
        if (options?.throwIfNoEntry === false) return undefined;
        throw fsError("ENOENT", "stat", p);
      }
      return new Stats(r.node);
    },
    lstatSync(path, options) { return sync.statSync(path, options); },
    readFileSync(path, options) {
      const encoding = encodingOf(options);
      if (typeof path === "number") {
        const f = fileOf(path, "read");
        const data = readAll(f.node, undefined);
        const rest = TypedArrayPrototypeSubarray(data, f.pos);
        f.pos = data.length;
        return output(rest, encoding);
      }
      const p = toPath(path);
      return output(readAll(existing(p, "readAll"), p), encoding);
    },
    writeFileSync(path, data, options) {
      const flag = (options !== null && typeof options === "object" && options.flag) || "w";
      const bytes = bytesOf(data, encodingOf(options));
      if (typeof path === "number") { sync.writeSync(path, bytes); return; }
      putData(toPath(path), bytes, flag, "writeAll");
    },
    appendFileSync(path, data, options) {
      const flag = (options !== null && typeof options === "object" && options.flag) || "a";
      const bytes = bytesOf(data, encodingOf(options));
      if (typeof path === "number") { sync.writeSync(path, bytes); return; }
      putData(toPath(path), bytes, flag, "writeAll");
    },
    readdirSync(path, options) {
      const p = toPath(path);
      const n = existing(p, "scandir");
      if (n.kind !== "dir") throw fsError("ENOTDIR", "scandir", p);
      // In creation order (the bundle: the config's module order), as workerd lists them.
      const names = [...n.entries.keys()];
      if (options?.withFileTypes) return names.map((name) => new Dirent(name, p, n.entries.get(name).kind));
      const encoding = encodingOf(options);
      return encoding === "buffer" ? names.map((name) => output(new TextEncoder().encode(name), undefined)) : names;
    },
    mkdirSync(path, options) {
      const p = toPath(path);
      const recursive = typeof options === "object" && options !== null && options.recursive === true;
      if (!recursive) {
        const r = lookup(p, "mkdir");
        // workerd returns quietly for a directory that exists.
        if (r.node !== undefined && r.node.kind === "dir") return undefined;
        if (r.node !== undefined) throw fsError("EEXIST", "mkdir", p);
        writableParent(r, p, "mkdir");
        r.parent.entries.set(r.name, node("dir", false));
        return undefined;
      }
      const ps = parts(p);
      let cur = root();
      let first;
      for (let i = 0; i < ps.length; i++) {
        let next = cur.entries.get(ps[i]);
        if (next === undefined) {
          if (cur.readOnly) throw fsError("EPERM", "mkdir", p);
          next = node("dir", false);
          cur.entries.set(ps[i], next);
          if (first === undefined) first = "/" + ArrayPrototypeJoin(ps.slice(0, i + 1), "/");
        } else if (next.kind !== "dir") {
          throw fsError("ENOTDIR", "mkdir", p);
        }
        cur = next;
      }
      return first;
    },
    mkdtempSync(prefix) {
      const base = toPath(prefix, "prefix");
      for (;;) {
        const name = base + Math.random().toString(36).slice(2, 8);
        if (!sync.existsSync(name)) { sync.mkdirSync(name); return name; }
      }
    },
    rmdirSync(path, options) {
      if (options?.recursive) { sync.rmSync(path, { recursive: true }); return; }
      const p = toPath(path);
      const r = lookup(p, "rmdir");
      if (r.node === undefined) throw fsError("ENOENT", "rmdir", p);
      if (r.node.kind !== "dir") throw fsError("ENOTDIR", "rmdir", p);
      if (r.node.entries.size > 0) throw fsError("ENOTEMPTY", "rm", p);
      writableParent(r, p, "rmdir");
      r.parent.entries.delete(r.name);
    },
    rmSync(path, options) {
      const p = toPath(path);
      const r = lookup(p, "rm");
      if (r.node === undefined) {
        if (options?.force) return;
        throw fsError("ENOENT", "rm", p);
      }
      // A non-empty directory needs `recursive` (workerd says ENOTEMPTY).
      if (r.node.kind === "dir" && !options?.recursive && r.node.entries.size > 0) throw fsError("ENOTEMPTY", "rm", p);
      writableParent(r, p, "rm");
      r.parent.entries.delete(r.name);
    },
    unlinkSync(path) {
      const p = toPath(path);
      const r = lookup(p, "unlink");
      if (r.node === undefined) throw fsError("ENOENT", "unlink", p);
      if (r.node.kind === "dir") throw fsError("EISDIR", "unlink", p);
      writableParent(r, p, "unlink");
      r.parent.entries.delete(r.name);
    },
    renameSync(from, to) {
      const a = toPath(from, "oldPath");
      const b = toPath(to, "newPath");
      const src = lookup(a, "rename");
      if (src.node === undefined) throw fsError("ENOENT", "rename", a, b);
      const dst = lookup(b, "rename");
      writableParent(src, a, "rename");
      writableParent(dst, b, "rename");
      if (dst.node !== undefined && dst.node.kind === "dir" && src.node.kind !== "dir") throw fsError("EISDIR", "rename", a, b);
      src.parent.entries.delete(src.name);
      dst.parent.entries.set(dst.name, src.node);
    },
    copyFileSync(from, to, mode = 0) {
      const a = toPath(from, "src");
      const b = toPath(to, "dest");
      const n = existing(a, "copyFile");
      if (n.kind === "dir") throw fsError("EISDIR", "copyFile", a, b);
      if ((mode & constants.COPYFILE_EXCL) && lookup(b, "copyFile").node !== undefined) throw fsError("EEXIST", "copyFile", a, b);
      putData(b, readAll(n, a), "w", "copyFile");
    },
    cpSync(from, to, options) {
      const a = toPath(from, "src");
      const n = existing(a, "cp");
      if (n.kind !== "dir") { sync.copyFileSync(from, to); return; }
      if (!options?.recursive) {
        const e = internal.nodeError(Error, "ERR_FS_EISDIR", `Recursive option is required to copy a directory: ${a}`);
        throw e;
      }
      const b = toPath(to, "dest");
      sync.mkdirSync(b, { recursive: true });
      for (const name of n.entries.keys()) sync.cpSync(`${a}/${name}`, `${b}/${name}`, options);
    },
    truncateSync(path, len = 0) {
      if (typeof path === "number") { sync.ftruncateSync(path, len); return; }
      const p = toPath(path);
      const n = existing(p, "open");
      if (n.kind !== "file") throw fsError("EISDIR", "open", p);
      if (n.readOnly) throw fsError("EPERM", "open", p);
      n.data = resized(n.data, len);
    },
    realpathSync(path) {
      const p = toPath(path);
      existing(p, "realpath");
      return "/" + ArrayPrototypeJoin(parts(p), "/");
    },
    readlinkSync(path) { throw fsError("EINVAL", "readlink", toPath(path)); },
    symlinkSync(target, path) { throw fsError("EPERM", "symlink", toPath(target), toPath(path)); },
    linkSync(existingPath, newPath) { throw fsError("EPERM", "link", toPath(existingPath), toPath(newPath)); },
    chmodSync(path) { existing(toPath(path), "chmod"); },
    lchmodSync(path) { existing(toPath(path), "lchmod"); },
    chownSync(path) { existing(toPath(path), "chown"); },
    lchownSync(path) { existing(toPath(path), "lchown"); },
    utimesSync(path, atime, mtime) {
      const n = existing(toPath(path), "utime");
      n.atime = timeOf(atime); n.mtime = timeOf(mtime);
    },
    lutimesSync(path, atime, mtime) { sync.utimesSync(path, atime, mtime); },
    openSync(path, flags, _mode) {
      const p = toPath(path);
      const flag = flagOf(flags);
      const r = lookup(p, "open");
      let n = r.node;
      if (n === undefined) {
        if (flag[0] === "r") throw fsError("ENOENT", "open", p);
        writableParent(r, p, "open");
        n = node("file", false);
        r.parent.entries.set(r.name, n);
      } else {
        if (flag.includes("x")) throw fsError("EEXIST", "open", p);
        if (flag !== "r" && flag !== "rs" && n.kind === "dir") throw fsError("EISDIR", "open", p);
        if (flag !== "r" && flag !== "rs" && n.readOnly) throw fsError("EPERM", "open", p);
        if (flag[0] === "w" && n.kind === "file") n.data = new Uint8Array(0);
      }
      const fd = nextFd++;
      const owner = current();
      fds.set(fd, { node: n, pos: 0, append: flag[0] === "a", readable: flag[0] === "r" || flag.includes("+"), writable: flag[0] !== "r" || flag.includes("+"), request: owner, path: p });
      let list = fdsOf.get(owner);
      if (list === undefined) { list = []; fdsOf.set(owner, list); }
      ArrayPrototypePush(list, fd);
      return fd;
    },
    // Closing a descriptor that is not open is not an error in workerd.
    closeSync(fd) {
      fds.delete(fd);
    },
    fstatSync(fd) { return new Stats(fileOf(fd, "fstat").node); },
    fsyncSync(fd) { fileOf(fd, "fsync"); },
    fdatasyncSync(fd) { fileOf(fd, "fdatasync"); },
    ftruncateSync(fd, len = 0) {
      const f = fileOf(fd, "ftruncate");
      if (!f.writable || f.node.kind !== "file") throw fsError("EBADF", "ftruncate");
      f.node.data = resized(f.node.data, len);
    },
    futimesSync(fd, atime, mtime) {
      const f = fileOf(fd, "futime");
      f.node.atime = timeOf(atime); f.node.mtime = timeOf(mtime);
    },
    fchmodSync(fd) { fileOf(fd, "fchmod"); },
    fchownSync(fd) { fileOf(fd, "fchown"); },
    readSync(fd, buffer, offsetOrOptions, length, position) {
      const f = fileOf(fd, "read");
      if (!f.readable) throw fsError("EBADF", "read");
      const target = internal.toBytes(buffer);
      if (target === null) throw internal.invalidArgType("buffer", "an instance of Buffer, TypedArray, or DataView", buffer);
      let offset = offsetOrOptions;
      if (offset !== null && typeof offset === "object") ({ offset = 0, length = target.length - offset, position = null } = offset);
      offset ??= 0;
      length ??= target.length - offset;
      const n = f.node;
      if (n.kind === "dir") throw fsError("EISDIR", "read");
      if (n.kind === "dev") {
        const len = n.dev === "null" ? 0 : length;
        if (n.dev === "random") crypto.getRandomValues(TypedArrayPrototypeSubarray(target, offset, offset + len));
        else target.fill(0, offset, offset + len);
        return len;
      }
      const at = position === null || position === undefined || position < 0 ? f.pos : Number(position);
      const count = Math.max(0, MathMin(length, n.data.length - at));
      TypedArrayPrototypeSet(target, TypedArrayPrototypeSubarray(n.data, at, at + count), offset);
      if (position === null || position === undefined || position < 0) f.pos = at + count;
      return count;
    },
    writeSync(fd, data, offsetOrPosition, lengthOrEncoding, position) {
      const f = fileOf(fd, "write");
      if (!f.writable) throw fsError("EBADF", "write");
      let bytes;
      let pos = null;
      if (typeof data === "string") {
        bytes = bytesOf(data, typeof lengthOrEncoding === "string" ? lengthOrEncoding : "utf8");
        pos = offsetOrPosition ?? null;
      } else {
        bytes = bytesOf(data);
        const offset = offsetOrPosition ?? 0;
        const length = lengthOrEncoding ?? bytes.length - offset;
        bytes = TypedArrayPrototypeSubarray(bytes, offset, offset + length);
        pos = position ?? null;
      }
      const n = f.node;
      if (n.kind === "dev") {
        if (n.dev === "full") throw fsError("ENOSPC", "write");
        return bytes.length;
      }
      const at = f.append ? n.data.length : pos === null ? f.pos : Number(pos);
      if (at + bytes.length > n.data.length) n.data = resized(n.data, at + bytes.length);
      TypedArrayPrototypeSet(n.data, bytes, at);
      if (pos === null || f.append) f.pos = at + bytes.length;
      n.mtime = DateNow();
      return bytes.length;
    },
    opendirSync(path) {
      const p = toPath(path);
      const entries = sync.readdirSync(p, { withFileTypes: true });
      let i = 0;
      return {
        path: p,
        readSync: () => (i < entries.length ? entries[i++] : null),
        read: (cb) => { const v = i < entries.length ? entries[i++] : null; if (cb) queueMicrotask(() => cb(null, v)); else return PromiseResolve(v); },
        closeSync: () => {},
        close: (cb) => { if (cb) queueMicrotask(() => cb(null)); else return PromiseResolve(); },
        async *[Symbol.asyncIterator]() { while (i < entries.length) yield entries[i++]; },
      };
    },
    statfsSync() {
      return { type: 0x01021994, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0 };
    },
  };
  function resized(data, len) {
    const out = new Uint8Array(len);
    TypedArrayPrototypeSet(out, TypedArrayPrototypeSubarray(data, 0, MathMin(len, data.length)), 0);
    return out;
  }
  function timeOf(t) {
    if (t instanceof Date) return t.getTime();
    if (typeof t === "string") return Number(t) * 1000;
    return Number(t) * 1000;
  }

  // Callback forms: the same work, the callback called in a microtask.
  const asyncNames = ["access", "stat", "lstat", "readFile", "writeFile", "appendFile", "readdir", "mkdir", "mkdtemp", "rmdir", "rm", "unlink", "rename", "copyFile", "cp", "truncate", "realpath", "readlink", "symlink", "link", "chmod", "lchmod", "chown", "lchown", "utimes", "lutimes", "open", "close", "fstat", "fsync", "fdatasync", "ftruncate", "futimes", "fchmod", "fchown", "opendir", "statfs"];
  const callbacks = {};
  for (const name of asyncNames) {
    const fn = sync[`${name}Sync`];
    callbacks[name] = function (...args) {
      const cb = args.pop();
      if (typeof cb !== "function") throw internal.invalidArgType("cb", "of type function", cb);
      let result;
      let error = null;
      try { result = fn(...args); } catch (e) { error = e; }
      queueMicrotask(() => (error !== null ? cb(error) : cb(null, result)));
    };
  }
  callbacks.exists = (path, cb) => { const r = sync.existsSync(path); queueMicrotask(() => cb(r)); };
  callbacks.read = function (fd, buffer, offset, length, position, cb) {
    if (typeof buffer === "function") { cb = buffer; buffer = new Uint8Array(16384); offset = 0; length = buffer.length; position = null; }
    else if (typeof offset === "function") { cb = offset; offset = undefined; }
    else if (typeof length === "function") { cb = length; length = undefined; }
    else if (typeof position === "function") { cb = position; position = undefined; }
    let n, error = null;
    try { n = sync.readSync(fd, buffer, offset, length, position); } catch (e) { error = e; }
    queueMicrotask(() => (error !== null ? cb(error) : cb(null, n, buffer)));
  };
  callbacks.write = function (fd, data, ...rest) {
    const cb = rest.pop();
    let n, error = null;
    try { n = sync.writeSync(fd, data, ...rest); } catch (e) { error = e; }
    queueMicrotask(() => (error !== null ? cb(error) : cb(null, n, data)));
  };

  // Promise forms (node:fs/promises), with FileHandle for open().
  class FileHandle {
    #fd;
    constructor(fd) { this.#fd = fd; }
    get fd() { return this.#fd; }
    async readFile(options) { return sync.readFileSync(this.#fd, options); }
    async writeFile(data, options) { sync.writeFileSync(this.#fd, data, options); }
    async appendFile(data, options) { sync.appendFileSync(this.#fd, data, options); }
    async read(buffer, offset, length, position) {
      if (buffer === undefined || (buffer !== null && typeof buffer === "object" && !ArrayBuffer.isView(buffer))) {
        const o = buffer ?? {};
        buffer = o.buffer ?? new Uint8Array(16384);
        offset = o.offset; length = o.length; position = o.position;
      }
      const bytesRead = sync.readSync(this.#fd, buffer, offset, length, position);
      return { bytesRead, buffer };
    }
    async write(data, ...rest) { const bytesWritten = sync.writeSync(this.#fd, data, ...rest); return { bytesWritten, buffer: data }; }
    async stat() { return sync.fstatSync(this.#fd); }
    async truncate(len) { sync.ftruncateSync(this.#fd, len); }
    async sync() {}
    async datasync() {}
    async chmod() {}
    async chown() {}
    async utimes(atime, mtime) { sync.futimesSync(this.#fd, atime, mtime); }
    async close() { if (fds.has(this.#fd)) sync.closeSync(this.#fd); }
    async [Symbol.asyncDispose]() { await this.close(); }
  }
  const promises = {};
  for (const name of asyncNames) {
    const fn = sync[`${name}Sync`];
    promises[name] = (...args) => {
      try { return PromiseResolve(fn(...args)); } catch (e) { return PromiseReject(e); }
    };
  }
  promises.open = async (path, flags, mode) => new FileHandle(sync.openSync(path, flags, mode));
  promises.opendir = async (path) => sync.opendirSync(path);
  delete promises.close;
  delete promises.fstat;
  delete promises.fsync;
  delete promises.fdatasync;
  delete promises.ftruncate;
  delete promises.futimes;
  delete promises.fchmod;
  delete promises.fchown;
  promises.constants = constants;

  // Streams, over the same calls.
  function streams() {
    const { Readable, Writable } = internal.requireBuiltin("node:stream");
    class ReadStream extends Readable {
      constructor(path, options = {}) {
        if (typeof options === "string") options = { encoding: options };
        super({ highWaterMark: options.highWaterMark ?? 65536, encoding: options.encoding });
        this.path = typeof path === "number" ? undefined : toPath(path);
        this.fd = options.fd ?? (typeof path === "number" ? path : null);
        this.flags = options.flags ?? "r";
        this.start = options.start;
        this.end = options.end ?? Infinity;
        this.pos = this.start;
        this.bytesRead = 0;
        this.pending = false;
        // Opened at once (the file system is in memory); "open" and
        // "ready" are emitted on the next tick, or the error.
        if (this.fd === null) {
          try {
            this.fd = sync.openSync(this.path, this.flags);
            queueMicrotask(() => { this.emit("open", this.fd); this.emit("ready"); });
          } catch (e) {
            queueMicrotask(() => this.destroy(e));
          }
        }
      }
      _read(n) {
        if (this.fd === null) return;
        const max = this.end === Infinity ? n : MathMin(n, this.end - (this.pos ?? this.bytesRead) + 1);
        if (max <= 0) { this.push(null); return; }
        const buf = new Uint8Array(max);
        let got;
        try { got = sync.readSync(this.fd, buf, 0, max, this.pos ?? null); } catch (e) { this.destroy(e); return; }
        if (this.pos !== undefined) this.pos += got;
        this.bytesRead += got;
        const { Buffer } = internal.requireBuiltin("node:buffer");
        this.push(got === 0 ? null : Buffer.from(buf.buffer, 0, got));
      }
      _destroy(err, callback) {
        if (this.fd !== null && fds.has(this.fd) && this.autoClose !== false) sync.closeSync(this.fd);
        callback(err);
      }
      close(cb) { this.destroy(); if (cb) this.once("close", cb); }
    }
    class WriteStream extends Writable {
      constructor(path, options = {}) {
        if (typeof options === "string") options = { encoding: options };
        super({ highWaterMark: options.highWaterMark, decodeStrings: true });
        this.path = typeof path === "number" ? undefined : toPath(path);
        this.fd = options.fd ?? (typeof path === "number" ? path : null);
        this.flags = options.flags ?? "w";
        this.pos = options.start;
        this.bytesWritten = 0;
        this.pending = false;
        // Opened at once (the file system is in memory); "open" and
        // "ready" are emitted on the next tick, or the error.
        if (this.fd === null) {
          try {
            this.fd = sync.openSync(this.path, this.flags);
            queueMicrotask(() => { this.emit("open", this.fd); this.emit("ready"); });
          } catch (e) {
            queueMicrotask(() => this.destroy(e));
          }
        }
      }
      _write(chunk, _encoding, callback) {
        if (this.fd === null) { callback(fsError("EBADF", "write")); return; }
        try {
          const n = sync.writeSync(this.fd, chunk, 0, chunk.length, this.pos ?? null);
          if (this.pos !== undefined) this.pos += n;
          this.bytesWritten += n;
        } catch (e) { callback(e); return; }
        callback();
      }
      _destroy(err, callback) {
        if (this.fd !== null && fds.has(this.fd)) sync.closeSync(this.fd);
        callback(err);
      }
      close(cb) { this.end(); if (cb) this.once("close", cb); }
    }
    return { ReadStream, WriteStream };
  }

  // The tree, for the File System Access API over it (fs_web.js).
  internal.vfs = { lookup, existing, sync, putData, resized, bytesOf };

  // node:constants (deprecated in Node, still required by old packages such
  // as graceful-fs): the file-system constants.
  internal.registerBuiltin("node:constants", () => ({ __proto__: null, ...constants, default: { ...constants } }));
  internal.registerBuiltin("node:fs/promises", () => ({ __proto__: null, ...promises, default: promises }));
  internal.registerBuiltin("node:fs", () => {
    let s = null;
    const lazy = () => (s ??= streams());
    const fs = {
      ...sync,
      ...callbacks,
      promises,
      constants,
      Stats,
      Dirent,
      F_OK: constants.F_OK, R_OK: constants.R_OK, W_OK: constants.W_OK, X_OK: constants.X_OK,
      get ReadStream() { return lazy().ReadStream; },
      get WriteStream() { return lazy().WriteStream; },
      createReadStream: (path, options) => new (lazy().ReadStream)(path, options),
      createWriteStream: (path, options) => new (lazy().WriteStream)(path, options),
    };
    return { __proto__: null, ...fs, default: fs };
  });
});
