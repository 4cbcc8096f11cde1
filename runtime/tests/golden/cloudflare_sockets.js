// compatibilityDate: 2025-06-01
import { connect } from "cloudflare:sockets";

export default {
  async fetch() {
    const out = [];
    const t = (f) => { try { f(); return "ok"; } catch (e) { return e.name; } };
    out.push(typeof connect);
    out.push(t(() => connect("no-port")), t(() => connect("host:0")), t(() => connect("host:70000")), t(() => connect({ hostname: "", port: 80 })), t(() => connect(42)));
    const s = connect("example.com:443");
    out.push(typeof s.readable.getReader, typeof s.writable.getWriter, s.secureTransport, s.upgraded);
    await s.close();
    return new Response(out.join("\n"));
  },
};
