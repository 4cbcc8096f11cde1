// Rewrites HTML pages on their way from the origin, as they stream: no page
// is held in memory whole. Standard Workers APIs only; runs unchanged on
// workerd.

export default {
  async fetch(request, env) {
    const response = await env.ORIGIN.fetch(request);
    const type = response.headers.get("content-type") ?? "";
    if (!type.startsWith("text/html")) {
      // Not a page: pass it on untouched (it never enters JS).
      return response;
    }
    return new HTMLRewriter()
      .on(`a[href^="${env.OLD_HOST}"]`, {
        element(el) {
          el.setAttribute("href", env.NEW_HOST + el.getAttribute("href").slice(env.OLD_HOST.length));
        },
      })
      .on('a[href^="http"]', {
        element(el) {
          if (!el.getAttribute("href").startsWith(env.NEW_HOST)) el.setAttribute("rel", "noopener");
        },
      })
      .on("body", {
        element(el) {
          el.prepend('<div class="banner">Served through isoproxy</div>', { html: true });
        },
      })
      .transform(response);
  },
};
