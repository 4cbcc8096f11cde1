// compatibilityDate: 2025-09-20
// compatibilityFlags: nodejs_compat, enable_web_file_system, experimental
import { readFileSync } from "node:fs";

export default {
  async fetch(request) {
    const root = await navigator.storage.getDirectory();
    const names = [];
    for await (const [name, h] of root.entries()) names.push(`${name}:${h.kind}`);
    console.log("root", names.join(","));
    const tmp = await root.getDirectoryHandle("tmp");
    const dir = await tmp.getDirectoryHandle("d", { create: true });
    const file = await dir.getFileHandle("f.txt", { create: true });
    console.log("handles", file.kind, file.name, dir.kind, dir.name);
    const w = await file.createWritable();
    await w.write("Hello ");
    await w.write(new TextEncoder().encode("World"));
    await w.write({ type: "write", position: 0, data: "J" });
    await w.write(new Blob(["!"]));
    await w.close();
    console.log("getFile", await (await file.getFile()).text(), (await file.getFile()).size);
    console.log("node sees", readFileSync("/tmp/d/f.txt", "utf8"));
    try { await tmp.getFileHandle("missing"); } catch (e) { console.log("missing", e.name); }
    try { await tmp.getFileHandle("d"); } catch (e) { console.log("dir as file", e.name); }
    try { await tmp.removeEntry("d"); } catch (e) { console.log("remove non-empty", e.name); }
    console.log("same entry", await file.isSameEntry(await dir.getFileHandle("f.txt")));
    await tmp.removeEntry("d", { recursive: true });
    const left = [];
    for await (const k of tmp.keys()) left.push(k);
    console.log("after remove", JSON.stringify(left));
    return new Response("ok");
  },
};
