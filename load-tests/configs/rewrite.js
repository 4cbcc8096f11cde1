// Rewriting Worker for the benchmark: the path prefix /in/ becomes /out/, the
// request gains `x-bench: 1`, and the origin's `x-remove-me` response header
// is dropped. The origin answers 404 for /in/... and 400 for /out/... without
// the header, so a rewrite that did not happen shows up as an error, not as
// speed. The same file runs in workerd and in isoproxy.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/in/")) {
      url.pathname = "/out/" + url.pathname.slice(4);
    }
    const outgoing = new Request(url, request);
    outgoing.headers.set("x-bench", "1");
    const upstream = await env.ORIGIN.fetch(outgoing);
    const response = new Response(upstream.body, upstream);
    response.headers.delete("x-remove-me");
    return response;
  },
};
