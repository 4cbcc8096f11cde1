// FormData and multipart/form-data bodies: building, serializing, parsing.
export default {
  async fetch(req) {
    const fd = new FormData();
    fd.append("name", "Ada");
    fd.append("multi", "line1\nline2\rline3");
    fd.append("quote\"d", "v");
    fd.append("file", new Blob(["hello, file"], { type: "text/plain" }), "greeting.txt");
    fd.append("blob", new Blob([new Uint8Array([0, 1, 2, 255])]));
    fd.append("name", "Lovelace");
    console.log(fd.getAll("name").join(","), fd.has("file"), fd.get("missing"));
    const f = fd.get("file");
    console.log(f instanceof File, f.name, f.type, f.size, fd.get("blob").name);
    fd.set("name", "Grace");
    console.log([...fd.keys()].join(","));

    // Serialized by a Request, parsed back by formData().
    const r = new Request("https://example.com/upload", { method: "POST", body: fd });
    const type = r.headers.get("content-type");
    console.log(type.startsWith("multipart/form-data; boundary="));
    const boundary = type.split("boundary=")[1];
    const wire = await r.clone().text();
    console.log(wire.split(boundary).length - 1, wire.endsWith(`--${boundary}--\r\n`));
    console.log(wire.includes('name="quote%22d"'), wire.includes("line1\r\nline2\r\nline3"));
    const back = await r.formData();
    for (const [k, v] of back) {
      if (typeof v === "string") console.log(k, JSON.stringify(v));
      else console.log(k, v.name, v.type, JSON.stringify(Array.from(new Uint8Array(await v.arrayBuffer()))));
    }

    // A body written by hand, with a preamble, CRLF line breaks and a
    // quoted boundary.
    const raw = [
      "preamble to ignore",
      "--XyZ",
      'Content-Disposition: form-data; name="a"',
      "",
      "1",
      "--XyZ",
      'content-disposition: form-data; name="up"; filename="a b.bin"',
      "Content-Type: application/octet-stream",
      "",
      "\u0001\u0002",
      "--XyZ--",
      "",
    ].join("\r\n");
    const parsed = await new Response(raw, { headers: { "content-type": 'multipart/form-data; boundary="XyZ"' } }).formData();
    console.log(parsed.get("a"), parsed.get("up").name, parsed.get("up").type, parsed.get("up").size);

    // Broken bodies are a TypeError.
    for (const [ct, body] of [
      ["multipart/form-data", "--x\r\n\r\n--x--"],
      ["multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end"],
      ["multipart/form-data; boundary=x", "--x\r\nContent-Type: text/plain\r\n\r\nv\r\n--x--"],
      ["text/plain", "a=1"],
    ]) {
      try {
        await new Response(body, { headers: { "content-type": ct } }).formData();
        console.log("parsed?!");
      } catch (e) {
        console.log(e.name);
      }
    }
    console.log(JSON.stringify(await new Response(new FormData()).text()));
    return new Response(await new Response(fd).text() === "" ? "empty" : "ok");
  },
};
