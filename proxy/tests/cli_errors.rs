//! The broken-config table of the schema tests, run through the real
//! `isoproxy check`: each must exit with status 64 and print the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

mod broken_cases {
    include!("../../schema/tests/common/broken_cases.rs");
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("isoproxy-cli-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A Worker `serve` (and so `check`) accepts: it has a fetch handler.
const SERVING_WORKER: &str = "export default { fetch() { return new Response(\"ok\"); } };\n";

fn isoproxy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_isoproxy"))
}

#[test]
fn broken_configs_exit_64_with_the_error() {
    let mut failures = Vec::new();
    for (i, (name, body, want)) in broken_cases::CASES.iter().enumerate() {
        let dir = Scratch::new(&format!("broken{i}"));
        let text = format!("{}{body}{}", broken_cases::HEADER, broken_cases::WORKER);
        std::fs::write(dir.0.join("config.capnp"), text).unwrap();
        std::fs::write(dir.0.join("worker.js"), "export default {};\n").unwrap();
        let out = isoproxy()
            .arg("check")
            .arg(dir.0.join("config.capnp"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(64) || !stderr.contains(want) {
            failures.push(format!(
                "{name}: status {:?}, stderr {stderr:?}, want {want:?}",
                out.status.code()
            ));
        }
        if !out.stdout.is_empty() {
            failures.push(format!(
                "{name}: printed to stdout: {:?}",
                String::from_utf8_lossy(&out.stdout)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn override_naming_an_unknown_socket_exits_64() {
    let dir = Scratch::new("override");
    let text = format!(
        "{}const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w) ],\n  sockets = [ (name = \"http\", http = (), service = \"a\") ],\n);{}",
        broken_cases::HEADER,
        broken_cases::WORKER
    );
    let cfg = dir.0.join("config.capnp");
    std::fs::write(&cfg, text).unwrap();
    std::fs::write(dir.0.join("worker.js"), SERVING_WORKER).unwrap();

    let out = isoproxy()
        .arg("check")
        .arg(&cfg)
        .args(["-s", "nope=*:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--socket-addr names unknown socket \"nope\""));

    let out = isoproxy()
        .arg("check")
        .arg(&cfg)
        .args(["-e", "ghost=x:1", "-s", "http=*:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--external-addr names unknown service \"ghost\""));

    let out = isoproxy().arg("check").arg(&cfg).args(["-s", "http"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--socket-addr expects NAME=VALUE"));

    let out = isoproxy()
        .arg("check")
        .arg(&cfg)
        .args(["-s", "http=127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("127.0.0.1:0"));
}

#[test]
fn missing_file_exits_64() {
    let out = isoproxy()
        .args(["check", "/nonexistent/isoproxy/config.capnp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let out = isoproxy()
        .args(["check", "--binary", "/nonexistent/isoproxy/config.bin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn const_name_picks_among_several_configs() {
    let dir = Scratch::new("consts");
    let text = format!(
        "{}const a :Workerd.Config = (services = [(name = \"x\", worker = .w)]);\nconst b :Workerd.Config = ();{}",
        broken_cases::HEADER,
        broken_cases::WORKER
    );
    let cfg = dir.0.join("config.capnp");
    std::fs::write(&cfg, text).unwrap();
    std::fs::write(dir.0.join("worker.js"), SERVING_WORKER).unwrap();

    let out = isoproxy().arg("check").arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("several Config constants (a, b): name the one to use"));

    let out = isoproxy().arg("check").arg(&cfg).arg("a").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("service x worker"));

    let out = isoproxy().arg("check").arg(&cfg).arg("w").output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("constant `w` is a Worker, not a Config; Config constants here: a, b"));

    let bin = dir.0.join("a.bin");
    let out = isoproxy()
        .arg("compile")
        .arg(&cfg)
        .arg("a")
        .arg("-o")
        .arg(&bin)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = isoproxy()
        .args(["check", "--binary"])
        .arg(&bin)
        .arg("a")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "CONST makes no sense with --binary");
}

/// `isoproxy serve` with each of `sockets` on the inherited fd 40, made
/// from `source` in the child (`None`: fd 40 is closed). Returns the exit
/// status and stderr (see [`finish`]).
fn serve_on_fd(dir: &Scratch, source: Option<std::os::fd::RawFd>, sockets: &[&str]) -> (Option<i32>, String) {
    use std::os::unix::process::CommandExt;
    let cfg = dir.0.join("config.capnp");
    let socket_list: Vec<String> = sockets
        .iter()
        .map(|name| format!("(name = \"{name}\", http = (), service = \"o\")"))
        .collect();
    std::fs::write(
        &cfg,
        format!(
            "{}const c :Workerd.Config = (\n  services = [ (name = \"o\", external = (address = \"127.0.0.1:9\", http = ())) ],\n  sockets = [ {} ],\n);\n",
            broken_cases::HEADER,
            socket_list.join(", ")
        ),
    )
    .unwrap();
    let stderr = dir.0.join("stderr.log");
    let mut cmd = isoproxy();
    cmd.arg("serve").arg(&cfg);
    for name in sockets {
        cmd.arg("-S").arg(format!("{name}=40"));
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let rc = match source {
                Some(fd) => libc::dup2(fd, 40),
                None => {
                    libc::close(40);
                    0
                }
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    finish(cmd, &stderr)
}

/// Run `cmd` (its stderr already sent to `stderr`) to its end; one still
/// running after 30 s is killed and reported as `None` (a `serve` that
/// should have refused to start).
fn finish(mut cmd: Command, stderr: &std::path::Path) -> (Option<i32>, String) {
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    (code, std::fs::read_to_string(stderr).unwrap())
}

#[test]
fn socket_fd_that_is_not_a_listening_tcp_socket_exits_64() {
    use std::os::fd::{AsRawFd, FromRawFd};
    let dir = Scratch::new("socket-fd");

    let (pipe_r, _pipe_w) = std::io::pipe().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let connected = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let unix_path = dir.0.join("unix.sock");
    let unix = std::os::unix::net::UnixListener::bind(&unix_path).unwrap();
    // A TCP socket bound to an address, but never told to listen.
    // SAFETY: plain socket(2) and bind(2) on a socket this test owns.
    let bound = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let rc = libc::bind(
            fd,
            std::ptr::addr_of!(addr).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0);
        std::os::fd::OwnedFd::from_raw_fd(fd)
    };

    let cases: [(&str, Option<std::os::fd::RawFd>, &str); 6] = [
        (
            "pipe",
            Some(pipe_r.as_raw_fd()),
            "fd 40 is a pipe, not a listening socket",
        ),
        (
            "connected TCP socket",
            Some(connected.as_raw_fd()),
            "fd 40 is not listening",
        ),
        (
            "bound, not listening",
            Some(bound.as_raw_fd()),
            "fd 40 is not listening",
        ),
        ("UDP socket", Some(udp.as_raw_fd()), "fd 40 is a datagram (UDP) socket"),
        (
            "Unix listening socket",
            Some(unix.as_raw_fd()),
            "fd 40 is a Unix-domain socket",
        ),
        ("closed fd", None, "fd 40 is not open"),
    ];
    let mut failures = Vec::new();
    for (name, source, want) in cases {
        let (code, stderr) = serve_on_fd(&dir, source, &["http"]);
        if code != Some(64) || !stderr.contains("--socket-fd http=40: ") || !stderr.contains(want) {
            // A server that adopted the fd may log without end: show the start.
            let start: String = stderr.chars().take(400).collect();
            failures.push(format!("{name}: status {code:?}, stderr {start:?}, want {want:?}"));
        }
    }
    // One descriptor cannot be two sockets (both would own, and close, it).
    let listening = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (code, stderr) = serve_on_fd(&dir, Some(listening.as_raw_fd()), &["a", "b"]);
    if code != Some(64) || !stderr.contains("--socket-fd b=40: fd 40 is already given to socket \"a\"") {
        let start: String = stderr.chars().take(400).collect();
        failures.push(format!("one fd for two sockets: status {code:?}, stderr {start:?}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Configs that load but that `serve` refuses at start-up: `check` must
/// refuse each the same way (status 64, the same message), having run the
/// same start-up steps short of binding sockets.
#[test]
fn check_refuses_what_serve_refuses_with_the_same_message() {
    let header = broken_cases::HEADER;
    let worker_socket = |files: &str| {
        format!(
            "{header}const c :Workerd.Config = (\n  services = [ (name = \"a\", worker = .w) ],\n  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"a\") ],\n);\nconst w :Workerd.Worker = (modules = [(name = \"m.js\", esModule = embed \"{files}\")], compatibilityDate = \"2024-09-01\");\n"
        )
    };
    let cases: [(&str, String, &str, &str); 4] = [
        (
            "disk service on a socket",
            format!(
                "{header}const c :Workerd.Config = (\n  services = [ (name = \"files\", disk = (path = \".\")) ],\n  sockets = [ (name = \"http\", address = \"127.0.0.1:0\", http = (), service = \"files\") ],\n);\n"
            ),
            "export default {};\n",
            "socket http: a disk service can only be reached through a Worker's binding",
        ),
        (
            "import that cannot resolve",
            worker_socket("worker.js"),
            "import { Buffer } from \"node:buffer\";\nexport default { fetch() { return new Response(Buffer.from(\"x\")); } };\n",
            "worker a: ",
        ),
        (
            "top-level throw",
            worker_socket("worker.js"),
            "throw new Error(\"refused at load\");\nexport default {};\n",
            "refused at load",
        ),
        (
            "https socket whose certificate is not PEM",
            format!(
                "{header}const c :Workerd.Config = (\n  services = [ (name = \"o\", external = (address = \"127.0.0.1:9\", http = ())) ],\n  sockets = [ (name = \"tls\", address = \"127.0.0.1:0\", service = \"o\",\n    https = (options = (), tlsOptions = (keypair = (privateKey = \"no key\", certificateChain = \"no certificate\")))) ],\n);\n"
            ),
            "export default {};\n",
            "socket tls: ",
        ),
    ];
    let mut failures = Vec::new();
    for (i, (name, config, script, want)) in cases.iter().enumerate() {
        let dir = Scratch::new(&format!("refused{i}"));
        let cfg = dir.0.join("config.capnp");
        std::fs::write(&cfg, config).unwrap();
        std::fs::write(dir.0.join("worker.js"), script).unwrap();
        let check = isoproxy().arg("check").arg(&cfg).output().unwrap();
        let check_err = String::from_utf8_lossy(&check.stderr).trim().to_string();
        let serve_log = dir.0.join("serve.log");
        let mut serve = isoproxy();
        serve
            .arg("serve")
            .arg(&cfg)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&serve_log).unwrap());
        let (serve_code, serve_err) = finish(serve, &serve_log);
        if serve_code != Some(64) || !serve_err.contains(want) {
            failures.push(format!(
                "{name}: serve: status {serve_code:?}, stderr {serve_err:?}, want {want:?}"
            ));
        }
        if check.status.code() != Some(64) || !check_err.contains(want) || !check.stdout.is_empty() {
            failures.push(format!(
                "{name}: check: status {:?}, stderr {check_err:?}, stdout {:?}, want {want:?}",
                check.status.code(),
                String::from_utf8_lossy(&check.stdout)
            ));
        } else if !serve_err.contains(&check_err) {
            failures.push(format!("{name}: check says {check_err:?}, serve says {serve_err:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
