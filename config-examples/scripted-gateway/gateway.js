// A gateway Worker: rewrites the request on its way to the origin and the
// response on its way back. Standard Workers APIs only.

const SECURITY_HEADERS = {
  "Strict-Transport-Security": "max-age=31536000",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);

    // Only the API is served; everything else is answered here.
    if (!url.pathname.startsWith(env.API_PREFIX + "/")) {
      return new Response("not found\n", { status: 404 });
    }

    // /api/v1/users -> /v1/users on the origin.
    url.pathname = url.pathname.slice(env.API_PREFIX.length);

    const headers = new Headers(request.headers);
    headers.delete("Cookie");
    headers.set("X-Request-Id", crypto.randomUUID());

    const upstream = await env.ORIGIN.fetch(
      new Request(url.toString(), {
        method: request.method,
        headers,
        body: request.body,
        redirect: "manual",
      }),
    );

    // Copy the response so its headers can be changed; the body streams
    // through untouched.
    const response = new Response(upstream.body, upstream);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      response.headers.set(name, value);
    }
    response.headers.delete("Server");
    return response;
  },
};
