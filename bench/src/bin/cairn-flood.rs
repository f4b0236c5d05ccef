//! `cairn-flood ADDR --idle N --slow M`: holds connections open against a
//! server the way an attacker would, for the connection tests and the
//! fault suite.
//!
//! Idle connections connect and send nothing; slow ones send a request
//! head one byte a second (slowloris) and never finish it. Every half
//! second it prints how many of each the server still keeps open
//! (`open idle=N slow=M tried=T`, T the connects finished), so a test can watch the server close them. It
//! raises its own open-file limit to the hard limit first; run several for
//! more connections than one process may hold.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser)]
#[command(
    name = "cairn-flood",
    about = "Hold idle and slowloris connections open"
)]
struct Args {
    /// host:port to connect to.
    addr: String,
    /// Connections that send nothing.
    #[arg(long, default_value_t = 0)]
    idle: usize,
    /// Connections that send a request head one byte a second.
    #[arg(long, default_value_t = 0)]
    slow: usize,
}

/// Connections the server still keeps open, by kind.
#[derive(Default)]
struct Open {
    idle: AtomicUsize,
    slow: AtomicUsize,
    /// Connection attempts finished, made or failed.
    tried: AtomicUsize,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let open = Arc::new(Open::default());
    let mut tasks = Vec::with_capacity(args.idle + args.slow);
    for i in 0..args.idle + args.slow {
        let slow = i >= args.idle;
        let (addr, open) = (args.addr.clone(), open.clone());
        tasks.push(tokio::spawn(async move { hold(&addr, slow, &open).await }));
        // Pace the connects a little so the listen backlog keeps up.
        if i % 256 == 255 {
            tokio::task::yield_now().await;
        }
    }
    loop {
        println!(
            "open idle={} slow={} tried={}",
            open.idle.load(Ordering::Relaxed),
            open.slow.load(Ordering::Relaxed),
            open.tried.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Holds one connection until the server closes it.
async fn hold(addr: &str, slow: bool, open: &Open) {
    let connected = tokio::time::timeout(Duration::from_secs(30), TcpStream::connect(addr)).await;
    let counter = if slow { &open.slow } else { &open.idle };
    let Ok(Ok(mut tcp)) = connected else {
        open.tried.fetch_add(1, Ordering::Relaxed);
        return;
    };
    counter.fetch_add(1, Ordering::Relaxed);
    open.tried.fetch_add(1, Ordering::Relaxed);
    let mut buf = [0u8; 512];
    if slow {
        let head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        for byte in head.iter().cycle() {
            let wrote = tcp.write_all(std::slice::from_ref(byte)).await;
            // The server answers (408) or closes: either way, it let go.
            let closed = tokio::time::timeout(Duration::from_secs(1), tcp.read(&mut buf)).await;
            if wrote.is_err() || matches!(closed, Ok(Ok(_)) | Ok(Err(_))) {
                break;
            }
        }
    } else {
        // Anything read (a 503, a 408) or EOF means the server let go.
        let _ = tcp.read(&mut buf).await;
    }
    counter.fetch_sub(1, Ordering::Relaxed);
}
