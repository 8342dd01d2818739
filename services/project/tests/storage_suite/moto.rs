//! A real S3-compatible server on loopback for the S3 runs: moto's server (`moto[server]`
//! from PyPI), started once per test binary on a port the OS picks. It stops when the test
//! binary exits: it waits on a pipe from this process, which closes then. Each test makes
//! its own bucket, so tests share the server but not their data.

use std::{
    io::{BufRead, BufReader},
    process::{Child, ChildStdin, Command, Stdio},
    sync::OnceLock,
};

/// The version `.ci/run` and `scripts/test` install.
pub const MOTO_INSTALL: &str = "pip install --quiet 'moto[server]==5.2.1'";

/// Starts the server in-process (port 0: no race for a free port), prints the port, then
/// serves until its stdin closes.
const SERVER: &str = r#"
import sys
try:
    from moto.server import ThreadedMotoServer
except ImportError as error:
    print(f"missing: {error}", flush=True)
    sys.exit(3)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"#;

pub struct Moto {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    _server: Child,
    /// Held open for the binary's lifetime: its closing is the server's signal to stop.
    _lifeline: ChildStdin,
}

/// The server of this test binary, started on first use. Panics, saying how to install
/// moto, when it cannot start: the S3 tests must never pass without running.
pub fn server() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(start)
}

fn start() -> Moto {
    let python = std::env::var("MOTO_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let mut child = Command::new(&python)
        .args(["-c", SERVER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        // Werkzeug logs every request there.
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| {
            panic!("cannot run {python} for the S3 tests' moto server ({error}): install Python 3 and then {MOTO_INSTALL}")
        });
    let mut first_line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first_line)
        .expect("read moto's port");
    let Ok(port) = first_line.trim().parse::<u16>() else {
        let _ = child.kill();
        panic!(
            "the S3 tests need moto's server, which {python} cannot start ({}): {MOTO_INSTALL}",
            first_line.trim()
        );
    };
    Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        _lifeline: child.stdin.take().expect("stdin"),
        _server: child,
    }
}
