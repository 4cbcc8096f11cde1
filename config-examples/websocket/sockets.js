// WebSockets in a Worker: serve one, relay one, pass one through.
// Standard Workers APIs only (the same script runs on workerd).

// A close code to pass on: 1005 (no code) and 1006 (connection lost) only
// describe what happened and may not be sent.
const closeCode = (event) => (event.code === 1005 || event.code === 1006 ? 1000 : event.code);

export default {
  async fetch(request, env) {
    if (request.headers.get("Upgrade") !== "websocket") {
      return new Response("this endpoint speaks WebSocket\n", { status: 426 });
    }
    const url = new URL(request.url);

    if (url.pathname === "/echo") {
      // Served here: one end goes back to the client, the Worker keeps the other.
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      server.addEventListener("message", (event) => server.send(event.data));
      server.addEventListener("close", (event) => server.close(closeCode(event), event.reason));
      return new Response(null, { status: 101, webSocket: client });
    }

    if (url.pathname === "/shout") {
      // Relayed: the Worker holds a socket to the origin and one to the client.
      const upstream = await env.ORIGIN.fetch("http://origin/echo", { headers: { Upgrade: "websocket" } });
      const origin = upstream.webSocket;
      if (origin === null) return new Response("the origin refused the WebSocket\n", { status: 502 });
      origin.accept();
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      server.addEventListener("message", (event) =>
        origin.send(typeof event.data === "string" ? event.data.toUpperCase() : event.data));
      origin.addEventListener("message", (event) => server.send(event.data));
      server.addEventListener("close", (event) => origin.close(closeCode(event), event.reason));
      origin.addEventListener("close", (event) => server.close(closeCode(event), event.reason));
      return new Response(null, { status: 101, webSocket: client });
    }

    // Passed through: the 101 and the origin's socket go back as they are.
    return env.ORIGIN.fetch(request);
  },
};
