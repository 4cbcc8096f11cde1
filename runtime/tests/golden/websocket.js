// WebSocketPair inside one isolate: construction, state, argument checks,
// and messages and a close handshake between two accepted ends.
export default {
  async fetch() {
    const t = (name, f) => {
      try { console.log(name, JSON.stringify(f())); } catch (e) { console.log(name, "threw", e.name, e.message); }
    };
    const pair = new WebSocketPair();
    const [a, b] = Object.values(pair);
    t("keys", () => Object.keys(pair));
    t("types", () => [a instanceof WebSocket, a instanceof EventTarget]);
    t("readyState", () => [a.readyState, b.readyState, WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED, a.CLOSED]);
    t("binaryType", () => a.binaryType);
    t("workerd constants", () => [WebSocket.READY_STATE_CONNECTING, WebSocket.READY_STATE_OPEN, a.READY_STATE_CLOSING, a.READY_STATE_CLOSED, a.bufferedAmount]);
    t("url", () => [a.url, a.protocol, a.extensions]);
    t("send before accept", () => a.send("x"));
    t("101 without webSocket", () => new Response(null, { status: 101 }).status);
    t("200 with webSocket", () => new Response(null, { status: 200, webSocket: a }).status);
    t("101 with webSocket", () => { const r = new Response(null, { status: 101, webSocket: a }); return [r.status, r.webSocket === a, r.body]; });
    for (const code of [999, 1000, 1004, 1005, 1006, 1015, 2000, 3000, 4999, 5000]) {
      const p = new WebSocketPair();
      p[0].accept();
      t(`close(${code})`, () => { p[0].close(code, "r"); return p[0].readyState; });
    }
    a.accept();
    b.accept();
    t("accept twice", () => a.accept());
    b.binaryType = "blob";
    t("binaryType blob", () => b.binaryType);
    b.binaryType = "nonsense";
    t("binaryType nonsense", () => b.binaryType);
    b.binaryType = "arraybuffer";
    const seen = [];
    const closed = new Promise((resolve) => {
      a.addEventListener("close", (e) => {
        seen.push(["a close", e.code, e.reason, e.wasClean, e instanceof CloseEvent]);
        resolve();
      });
    });
    let count = 0;
    b.addEventListener("message", (e) => {
      const d = e.data;
      seen.push(["b message", e instanceof MessageEvent, typeof d, d instanceof ArrayBuffer ? [...new Uint8Array(d)] : d]);
      if (++count === 4) b.close(4000, "bye");
    });
    a.send("hello");
    a.send(new Uint8Array([1, 2, 3]));
    a.send(new Uint8Array([9, 8, 7, 6]).subarray(1, 3));
    a.send(new ArrayBuffer(2));
    await closed;
    for (const s of seen) console.log(JSON.stringify(s));
    t("send after close", () => b.send("late"));
    t("close again", () => b.close());
    return new Response("ok");
  },
};
