// compatibilityDate: 2025-09-20
// compatibilityFlags: nodejs_compat
import fs from "node:fs";
import { readFile, writeFile, mkdir, readdir, stat, rm } from "node:fs/promises";
import { Buffer } from "node:buffer";

const show = (label, f) => {
  try { console.log(label, JSON.stringify(f())); } catch (e) { console.log(label, "throws", e.code, e.syscall, e.message); }
};
const atStart = fs.readdirSync("/bundle");

export default {
  async fetch(request) {
    console.log("bundle", JSON.stringify(atStart), fs.readdirSync("/bundle").length);
    console.log("root", JSON.stringify(fs.readdirSync("/")));
    const self = fs.readFileSync(`/bundle/${atStart[0]}`, "utf8");
    console.log("self starts", JSON.stringify(self.slice(0, 22)));
    show("bundle stat", () => { const s = fs.statSync(`/bundle/${atStart[0]}`); return [s.isFile(), s.isDirectory(), s.size > 0, s.mtimeMs]; });
    show("bundle write", () => fs.writeFileSync(`/bundle/${atStart[0]}`, "x"));
    show("bundle unlink", () => fs.unlinkSync(`/bundle/${atStart[0]}`));
    show("relative", () => fs.existsSync(atStart[0]));
    show("tmp empty", () => fs.readdirSync("/tmp"));
    fs.writeFileSync("/tmp/a.txt", "hello");
    fs.appendFileSync("/tmp/a.txt", " world");
    show("read", () => fs.readFileSync("/tmp/a.txt", "utf8"));
    show("read buffer", () => Buffer.isBuffer(fs.readFileSync("/tmp/a.txt")));
    show("exists", () => [fs.existsSync("/tmp/a.txt"), fs.existsSync("/tmp/nope")]);
    show("missing", () => fs.readFileSync("/tmp/nope"));
    show("read dir", () => fs.readFileSync("/tmp"));
    show("mkdir", () => fs.mkdirSync("/tmp/d/e/f", { recursive: true }));
    show("mkdir again", () => fs.mkdirSync("/tmp/d"));
    show("mkdir under file", () => fs.mkdirSync("/tmp/a.txt/x"));
    show("readdir types", () => fs.readdirSync("/tmp", { withFileTypes: true }).map((d) => [d.name, d.isFile(), d.isDirectory()]));
    show("rmdir not empty", () => fs.rmdirSync("/tmp/d"));
    show("rm dir no recursive", () => fs.rmSync("/tmp/d"));
    show("rm recursive", () => fs.rmSync("/tmp/d", { recursive: true }));
    show("rm force missing", () => fs.rmSync("/tmp/zz", { force: true }));
    show("rename", () => { fs.renameSync("/tmp/a.txt", "/tmp/b.txt"); return fs.readdirSync("/tmp"); });
    show("copy", () => { fs.copyFileSync("/tmp/b.txt", "/tmp/c.txt"); return fs.readFileSync("/tmp/c.txt", "utf8"); });
    show("copy excl", () => fs.copyFileSync("/tmp/b.txt", "/tmp/c.txt", fs.constants.COPYFILE_EXCL));
    show("fd", () => {
      const fd = fs.openSync("/tmp/f.bin", "w+");
      fs.writeSync(fd, Buffer.from("abcdef"));
      fs.writeSync(fd, "XY", 1);
      const buf = Buffer.alloc(4);
      const n = fs.readSync(fd, buf, 0, 4, 0);
      const size = fs.fstatSync(fd).size;
      fs.closeSync(fd);
      return [n, buf.toString(), size];
    });
    show("closed fd", () => fs.closeSync(9999));
    show("truncate", () => { fs.truncateSync("/tmp/f.bin", 2); return fs.readFileSync("/tmp/f.bin", "utf8"); });
    show("dev null", () => fs.readFileSync("/dev/null").length);
    show("dev write", () => fs.writeFileSync("/dev/null", "x"));
    show("dev full", () => fs.writeFileSync("/dev/full", "x"));
    show("root write", () => fs.writeFileSync("/x.txt", "x"));
    show("realpath", () => fs.realpathSync("/tmp/../tmp/./b.txt"));
    await mkdir("/tmp/p");
    await writeFile("/tmp/p/q.txt", "promised");
    console.log("promises", await readFile("/tmp/p/q.txt", "utf8"), JSON.stringify(await readdir("/tmp/p")), (await stat("/tmp/p")).isDirectory());
    await rm("/tmp/p", { recursive: true });
    try { await readFile("/tmp/p/q.txt"); } catch (e) { console.log("promise error", e.code); }
    const cb = await new Promise((resolve) => fs.readFile("/tmp/b.txt", "utf8", (err, data) => resolve([err, data])));
    console.log("callback", JSON.stringify(cb));
    return new Response(fs.readdirSync("/tmp").join(","));
  },
};
