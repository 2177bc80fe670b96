//! Abuse traffic for the hardening benchmark: what an unauthenticated client on the network
//! can throw at Firewatch, all at once, for `--seconds`.
//!
//! ```text
//! cargo run --release --example abuse -- --url http://127.0.0.1:8080 --seconds 60 \
//!     [--logins 8] [--methods 4] [--stalled 300] [--idle 300]
//! ```
//! - `--logins N`: N clients posting wrong passwords to the sign-in form as fast as it
//!   answers (names from a small set, so lockouts build up, and random ones);
//! - `--methods N`: N clients sending requests with invented HTTP methods;
//! - `--stalled N`: N connections that announce a 1 MB sign-in form, send 10 bytes and
//!   stall (reconnecting when the server closes them);
//! - `--idle N`: N connections that send nothing (reconnecting when closed);
//! - `--from IP`: send everything from this local address (e.g. 127.0.0.2), so the
//!   legitimate client on 127.0.0.1 is another client for the server's per-address limits.
//!
//! Prints what the server answered, by kind. Run a legitimate client beside it (loadgen
//! intake --rate) and watch its latency and the server's RSS.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Tally = Arc<Mutex<BTreeMap<String, u64>>>;

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect(name))
}

fn count(tally: &Tally, key: impl Into<String>) {
    *tally.lock().unwrap().entry(key.into()).or_default() += 1;
}

/// The local address abuse comes from (`--from`), if any.
static FROM: std::sync::OnceLock<Option<std::net::IpAddr>> = std::sync::OnceLock::new();

/// A TCP connection to `addr`, from `--from` when given.
async fn connect(addr: &str) -> std::io::Result<TcpStream> {
    let Some(from) = FROM.get().copied().flatten() else {
        return TcpStream::connect(addr).await;
    };
    let target: std::net::SocketAddr = addr
        .parse()
        .map_err(|e| std::io::Error::other(format!("{addr}: {e}")))?;
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::new(from, 0))?;
    socket.connect(target).await
}

/// The status line's code of a raw HTTP answer, or what happened instead.
async fn answer_of(s: &mut TcpStream, wait: Duration) -> String {
    let mut buf = [0u8; 512];
    match tokio::time::timeout(wait, s.read(&mut buf)).await {
        Err(_) => "no answer yet".into(),
        Ok(Ok(0)) => "closed".into(),
        Ok(Ok(n)) => String::from_utf8_lossy(&buf[..n])
            .split_whitespace()
            .nth(1)
            .map_or_else(|| "garbage".into(), |c| format!("HTTP {c}")),
        Ok(Err(_)) => "reset".into(),
    }
}

async fn wrong_logins(base: String, c: u64, deadline: Instant, tally: Tally) {
    let client = reqwest::Client::builder()
        .local_address(FROM.get().copied().flatten())
        .build()
        .unwrap();
    let page = client.get(format!("{base}/login")).send().await.unwrap();
    let csrf = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("fw_login_csrf="))
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .to_string();
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let name = if n.is_multiple_of(2) {
            ["admin", "root", "oncall", "alice"][(n / 2 % 4) as usize].to_string()
        } else {
            format!("guess-{c}-{n}")
        };
        let res = client
            .post(format!("{base}/login"))
            .header("Cookie", format!("fw_login_csrf={csrf}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("name", name.as_str()),
                ("password", "wrong-password-123"),
            ])
            .send()
            .await;
        match res {
            Ok(r) => count(&tally, format!("login: HTTP {}", r.status().as_u16())),
            Err(_) => count(&tally, "login: error"),
        }
    }
}

async fn invented_methods(addr: String, c: u64, deadline: Instant, tally: Tally) {
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let Ok(mut s) = connect(&addr).await else {
            count(&tally, "method: connect failed");
            continue;
        };
        let req =
            format!("X{c}M{n} /api/v1/incidents HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        if s.write_all(req.as_bytes()).await.is_err() {
            count(&tally, "method: write failed");
            continue;
        }
        let a = answer_of(&mut s, Duration::from_secs(5)).await;
        count(&tally, format!("method: {a}"));
    }
}

/// Holds one connection in the state `head` leaves it in, reconnecting when the server
/// closes it.
async fn hold(
    addr: String,
    head: Option<String>,
    kind: &'static str,
    deadline: Instant,
    tally: Tally,
) {
    while Instant::now() < deadline {
        let Ok(mut s) = connect(&addr).await else {
            count(&tally, format!("{kind}: connect failed"));
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if let Some(h) = &head {
            let _ = s.write_all(h.as_bytes()).await;
        }
        count(&tally, format!("{kind}: opened"));
        let left = deadline.saturating_duration_since(Instant::now());
        let a = answer_of(&mut s, left).await;
        if a != "no answer yet" {
            count(&tally, format!("{kind}: {a}"));
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let base = args
        .iter()
        .position(|a| a == "--url")
        .and_then(|i| args.get(i + 1).cloned())
        .expect("--url http://HOST:PORT");
    let addr = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let seconds = arg(&args, "--seconds", 60);
    let from = args
        .iter()
        .position(|a| a == "--from")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("--from IP"));
    FROM.set(from).expect("set once");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tally: Tally = Arc::default();
    let mut tasks = Vec::new();
    for c in 0..arg(&args, "--logins", 8) {
        tasks.push(tokio::spawn(wrong_logins(
            base.clone(),
            c,
            deadline,
            tally.clone(),
        )));
    }
    for c in 0..arg(&args, "--methods", 4) {
        tasks.push(tokio::spawn(invented_methods(
            addr.clone(),
            c,
            deadline,
            tally.clone(),
        )));
    }
    // The sign-in form reads its body without credentials: the body deadline must end
    // these (API routes refuse them before reading, at once).
    let stalled = "POST /login HTTP/1.1\r\nHost: x\r\n\
                   Content-Type: application/x-www-form-urlencoded\r\n\
                   Content-Length: 1000000\r\n\r\nname=admin";
    for _ in 0..arg(&args, "--stalled", 300) {
        let head = Some(stalled.to_string());
        tasks.push(tokio::spawn(hold(
            addr.clone(),
            head,
            "stalled",
            deadline,
            tally.clone(),
        )));
    }
    for _ in 0..arg(&args, "--idle", 300) {
        tasks.push(tokio::spawn(hold(
            addr.clone(),
            None,
            "idle",
            deadline,
            tally.clone(),
        )));
    }
    for t in tasks {
        let _ = t.await;
    }
    println!("abuse for {seconds} s, what the server answered:");
    for (k, v) in tally.lock().unwrap().iter() {
        println!("  {k}: {v}");
    }
}
