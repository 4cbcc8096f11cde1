//! What happens to a request once its head passed the checks: Pingora's
//! phases for the no-script path, the Worker path, CONNECT tunnels, the
//! per-socket routes, the Worker's way out (`Outbound`), and response
//! compression.

pub mod auth;
pub mod compress;
pub mod connect;
pub mod ctx;
pub mod disk;
pub mod frames;
pub mod handler;
pub mod idle;
pub mod limit;
pub mod outbound;
pub mod route;
pub mod router;
pub mod socket;
pub mod websocket;
pub mod worker;
