//! The client side of a connection: the connection loop that reads each
//! request head and checks it strictly before Pingora sees it, and the
//! chunked-framing check on request bodies.

pub mod chunked;
pub mod conn;
pub mod precheck;
pub mod proxy_protocol;
