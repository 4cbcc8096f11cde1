// Answers every request itself: a greeting, or the JSON binding at /config.

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/config") {
      return Response.json(env.SETTINGS);
    }
    const name = url.searchParams.get("name") || "world";
    return new Response(`${env.GREETING}, ${name}!\n`, {
      headers: { "Content-Type": "text/plain; charset=utf-8" },
    });
  },
};
