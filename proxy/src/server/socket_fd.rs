//! Checks on the descriptors handed over with `-S/--socket-fd NAME=FD`
//! (systemd socket activation, a supervisor): each must be a listening TCP
//! socket. Anything else (a pipe, a connected socket, a socket never put in
//! listening state, a closed number) would be adopted silently and serve
//! nothing, so `serve` refuses it before it builds anything.

use std::os::fd::RawFd;

use isoproxy_schema::model::Config;

/// Check every socket of `config` that names an inherited fd. The error
/// names the socket, the fd and what is wrong with it.
pub fn check(config: &Config) -> Result<(), String> {
    let mut seen: Vec<(RawFd, &str)> = Vec::new();
    for s in &config.sockets {
        let Some(fd) = s.fd else { continue };
        if let Some((_, other)) = seen.iter().find(|(f, _)| *f == fd) {
            return Err(format!(
                "--socket-fd {}={fd}: fd {fd} is already given to socket {other:?}",
                s.name
            ));
        }
        seen.push((fd, &s.name));
        listening_tcp(fd).map_err(|why| format!("--socket-fd {}={fd}: fd {fd} {why}", s.name))?;
    }
    Ok(())
}

/// `Ok` when `fd` is an open, listening TCP socket; otherwise what it is.
fn listening_tcp(fd: RawFd) -> Result<(), String> {
    // SAFETY: `stat` is plain data, and all zeroes is a valid value of it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat only writes into `st`; an fd that is not open is
    // reported as EBADF, never touched.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EBADF) {
            "is not open".into()
        } else {
            format!("cannot be examined: {e}")
        });
    }
    let kind = st.st_mode & libc::S_IFMT;
    if kind != libc::S_IFSOCK {
        let what = match kind {
            libc::S_IFIFO => "a pipe",
            libc::S_IFREG => "a regular file",
            libc::S_IFCHR => "a character device",
            libc::S_IFDIR => "a directory",
            _ => "not a socket",
        };
        return Err(format!("is {what}, not a listening socket"));
    }
    match sockopt(fd, libc::SO_TYPE)? {
        libc::SOCK_STREAM => {}
        libc::SOCK_DGRAM => return Err("is a datagram (UDP) socket, not a stream socket".into()),
        _ => return Err("is not a stream socket".into()),
    }
    match sockopt(fd, libc::SO_DOMAIN)? {
        libc::AF_INET | libc::AF_INET6 => {}
        libc::AF_UNIX => return Err("is a Unix-domain socket; isoproxy listens on TCP sockets only".into()),
        _ => return Err("is not a TCP socket".into()),
    }
    if sockopt(fd, libc::SO_ACCEPTCONN)? == 0 {
        return Err("is not listening (a connected socket, or one listen() was never called on)".into());
    }
    Ok(())
}

/// An integer `SOL_SOCKET` option of `fd`.
fn sockopt(fd: RawFd, name: libc::c_int) -> Result<libc::c_int, String> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid for writes of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            std::ptr::addr_of_mut!(value).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(format!("cannot be examined: {}", std::io::Error::last_os_error()));
    }
    Ok(value)
}
