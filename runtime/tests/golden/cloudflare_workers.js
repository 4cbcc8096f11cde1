// compatibilityDate: 2025-06-01
// text: NAME = isoproxy
import { WorkerEntrypoint, env } from "cloudflare:workers";

const atLoad = env.NAME;

export default class extends WorkerEntrypoint {
  async fetch(request) {
    const out = [];
    out.push(`${this.env.NAME} ${atLoad} ${env.NAME === this.env.NAME} ${typeof this.ctx.waitUntil} ${this instanceof WorkerEntrypoint}`);
    out.push(`${typeof Buffer} ${typeof process} ${new URL(request.url).pathname}`);
    this.ctx.waitUntil(Promise.resolve());
    return new Response(out.join("\n"));
  }
}
