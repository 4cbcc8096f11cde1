// isoproxy glue: the File System Access API (`navigator.storage`, behind
// `enable_web_file_system`) over node:fs's in-memory tree (fs.js), as
// workerd has it. https://fs.spec.whatwg.org/
"use strict";
globalThis.__internal.deferNode(function (internal) {
  const { MathMin, TypedArrayPrototypeSet, TypedArrayPrototypeSubarray, DateNow, PromisePrototypeThen } = internal.primordials;
  const { lookup, existing, sync, putData, resized, bytesOf } = internal.vfs;
  const kPath = Symbol("path");
  const notFound = (what) => new DOMException(`${what} not found`, "NotFoundError");
  const typeMismatch = (what) => new DOMException(`${what} is not of the expected kind`, "TypeMismatchError");
  function child(dirPath, name) {
    name = `${name}`;
    if (name === "" || name === "." || name === ".." || name.includes("/")) throw new TypeError(`Invalid name: "${name}"`);
    return dirPath === "/" ? `/${name}` : `${dirPath}/${name}`;
  }
  class FileSystemHandle {
    constructor(path, kind) {
      this[kPath] = path;
      this.kind = kind;
      this.name = path === "/" ? "" : path.slice(path.lastIndexOf("/") + 1);
    }
    async isSameEntry(other) { return other instanceof FileSystemHandle && other[kPath] === this[kPath] && other.kind === this.kind; }
  }
  class FileSystemFileHandle extends FileSystemHandle {
    constructor(path) { super(path, "file"); }
    async getFile() {
      const n = existing(this[kPath], "open");
      if (n.kind !== "file") throw typeMismatch(this.name);
      return new File([new Uint8Array(n.data)], this.name, { lastModified: n.mtime });
    }
    async createWritable(options = {}) {
      const path = this[kPath];
      const n = existing(path, "open");
      if (n.readOnly) throw new DOMException("The file is read-only", "NoModificationAllowedError");
      let data = options.keepExistingData ? new Uint8Array(n.data) : new Uint8Array(0);
      let pos = 0;
      const put = (bytes, at) => {
        if (at + bytes.length > data.length) data = resized(data, at + bytes.length);
        TypedArrayPrototypeSet(data, bytes, at);
        return at + bytes.length;
      };
      const stream = new WritableStream({
        write(chunk) {
          if (chunk !== null && typeof chunk === "object" && !ArrayBuffer.isView(chunk) && !(chunk instanceof ArrayBuffer) && !(chunk instanceof Blob) && typeof chunk.type === "string") {
            if (chunk.type === "seek") { pos = Number(chunk.position); return; }
            if (chunk.type === "truncate") { data = resized(data, Number(chunk.size)); pos = MathMin(pos, data.length); return; }
            if (chunk.position !== undefined && chunk.position !== null) pos = Number(chunk.position);
            chunk = chunk.data;
          }
          if (chunk instanceof Blob) return PromisePrototypeThen(chunk.arrayBuffer(), (b) => { pos = put(new Uint8Array(b), pos); });
          pos = put(bytesOf(chunk, "utf8"), pos);
        },
        close() {
          n.data = data;
          n.mtime = n.ctime = DateNow();
        },
      });
      const writer = stream.getWriter();
      writer.releaseLock();
      const out = Object.create(FileSystemWritableFileStream.prototype);
      out[kPath] = stream;
      return out;
    }
    async createSyncAccessHandle() {
      const n = existing(this[kPath], "open");
      if (n.readOnly) throw new DOMException("The file is read-only", "NoModificationAllowedError");
      let closed = false;
      const check = () => { if (closed) throw new DOMException("The access handle is closed", "InvalidStateError"); };
      let cursor = 0;
      return {
        read(buffer, options = {}) {
          check();
          const target = internal.toBytes(buffer);
          const at = options.at ?? cursor;
          const count = Math.max(0, MathMin(target.length, n.data.length - at));
          TypedArrayPrototypeSet(target, TypedArrayPrototypeSubarray(n.data, at, at + count), 0);
          cursor = at + count;
          return count;
        },
        write(buffer, options = {}) {
          check();
          const bytes = internal.toBytes(buffer);
          const at = options.at ?? cursor;
          if (at + bytes.length > n.data.length) n.data = resized(n.data, at + bytes.length);
          TypedArrayPrototypeSet(n.data, bytes, at);
          cursor = at + bytes.length;
          n.mtime = DateNow();
          return bytes.length;
        },
        truncate(size) { check(); n.data = resized(n.data, Number(size)); cursor = MathMin(cursor, n.data.length); },
        getSize() { check(); return n.data.length; },
        flush() { check(); },
        close() { closed = true; },
      };
    }
  }
  // One write through the stream's own writer, released after.
  async function through(stream, f) {
    const w = stream.getWriter();
    try { await f(w); } finally { w.releaseLock(); }
  }
  class FileSystemWritableFileStream {
    get locked() { return this[kPath].locked; }
    write(data) { return through(this[kPath], (w) => w.write(data)); }
    seek(position) { return through(this[kPath], (w) => w.write({ type: "seek", position })); }
    truncate(size) { return through(this[kPath], (w) => w.write({ type: "truncate", size })); }
    close() { return this[kPath].close(); }
    abort(reason) { return this[kPath].abort(reason); }
    getWriter() { return this[kPath].getWriter(); }
  }
  class FileSystemDirectoryHandle extends FileSystemHandle {
    constructor(path) { super(path, "directory"); }
    async getDirectoryHandle(name, options = {}) {
      const path = child(this[kPath], name);
      const r = lookup(path, "open");
      if (r.node === undefined) {
        if (!options.create) throw notFound(name);
        sync.mkdirSync(path);
      } else if (r.node.kind !== "dir") {
        throw typeMismatch(name);
      }
      return new FileSystemDirectoryHandle(path);
    }
    async getFileHandle(name, options = {}) {
      const path = child(this[kPath], name);
      const r = lookup(path, "open");
      if (r.node === undefined) {
        if (!options.create) throw notFound(name);
        putData(path, new Uint8Array(0), "w", "open");
      } else if (r.node.kind === "dir") {
        throw typeMismatch(name);
      }
      return new FileSystemFileHandle(path);
    }
    async removeEntry(name, options = {}) {
      const path = child(this[kPath], name);
      const r = lookup(path, "rm");
      if (r.node === undefined) throw notFound(name);
      if (r.node.kind === "dir" && r.node.entries.size > 0 && !options.recursive) {
        throw new DOMException(`${name} is not empty`, "InvalidModificationError");
      }
      sync.rmSync(path, { recursive: true });
    }
    async resolve(possibleDescendant) {
      const base = this[kPath] === "/" ? "/" : `${this[kPath]}/`;
      const p = possibleDescendant[kPath];
      if (p === this[kPath]) return [];
      if (!p.startsWith(base)) return null;
      return p.slice(base.length).split("/");
    }
    async *entries() {
      const n = existing(this[kPath], "scandir");
      for (const [name, c] of n.entries) {
        const path = child(this[kPath], name);
        yield [name, c.kind === "dir" ? new FileSystemDirectoryHandle(path) : new FileSystemFileHandle(path)];
      }
    }
    async *keys() { for await (const [name] of this.entries()) yield name; }
    async *values() { for await (const [, h] of this.entries()) yield h; }
    [Symbol.asyncIterator]() { return this.entries(); }
  }
  class StorageManager {
    async getDirectory() { return new FileSystemDirectoryHandle("/"); }
    async estimate() { return { quota: 0, usage: 0 }; }
    async persist() { return false; }
    async persisted() { return false; }
  }
  // Called by `setup` for a Worker with `enable_web_file_system`.
  internal.enableWebFs = () => {
    const storage = new StorageManager();
    Object.defineProperty(globalThis.navigator, "storage", { get: () => storage, enumerable: true, configurable: true });
    internal.defineGlobals({ FileSystemHandle, FileSystemFileHandle, FileSystemDirectoryHandle, FileSystemWritableFileStream, StorageManager });
  };

});
