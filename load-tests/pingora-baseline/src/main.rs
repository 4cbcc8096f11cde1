//! The smallest Pingora reverse proxy: `ProxyHttp` with only `upstream_peer`,
//! one origin, pooled keep-alive upstream connections, Pingora's own server
//! and runtime. The benchmark runs it beside isoproxy's no-script path to
//! tell what Pingora itself costs from what isoproxy adds.
//!
//!   pingora-baseline LISTEN_ADDR ORIGIN_ADDR [THREADS] [steal|nosteal]
//!
//! `nosteal` runs Pingora's current-thread runtime per thread instead of
//! one work-stealing runtime (how the runtime choice alone moves the cost).

use async_trait::async_trait;
use pingora_core::server::configuration::ServerConf;
use pingora_core::server::Server;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_core::Result;
use pingora_proxy::{ProxyHttp, Session};

// The allocator isoproxy uses, so the two differ only in what they do.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Baseline {
    origin: String,
}

#[async_trait]
impl ProxyHttp for Baseline {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.origin.as_str(), false, String::new())))
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(origin)) = (args.next(), args.next()) else {
        eprintln!("usage: pingora-baseline LISTEN_ADDR ORIGIN_ADDR [THREADS] [steal|nosteal]");
        std::process::exit(2);
    };
    let threads = args.next().and_then(|t| t.parse().ok()).unwrap_or(1);
    let work_stealing = args.next().as_deref() != Some("nosteal");
    let conf = ServerConf {
        threads,
        work_stealing,
        // The benchmark stops it with SIGTERM: no draining wait.
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut service = pingora_proxy::http_proxy_service(&server.configuration, Baseline { origin });
    service.add_tcp(&listen);
    server.add_service(service);
    server.run_forever();
}
