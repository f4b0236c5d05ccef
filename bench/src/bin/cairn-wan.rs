//! `cairn-wan LISTEN UPSTREAM DELAY`: a TCP proxy that adds a one-way delay
//! in each direction, so containers on one machine feel as far apart as
//! regions are. The Docker deployment puts one between each region and the
//! origin (this kernel has no `sch_netem`, which would do the same in
//! `tc`).
//!
//! It is a delay line, not a throttle: every chunk is forwarded `DELAY`
//! after it arrived, whatever else is in flight, as a long link behaves. A
//! new connection pays one round trip before the upstream accepts it, as a
//! TCP handshake across the link would.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, upstream, delay] = args.as_slice() else {
        eprintln!("usage: cairn-wan LISTEN UPSTREAM DELAY (e.g. 0.0.0.0:9000 origin:9000 60ms)");
        std::process::exit(2);
    };
    let delay = match cairn_shared::units::parse_duration(delay) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cairn-wan: {e}");
            std::process::exit(2);
        }
    };
    let listener = match TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cairn-wan: cannot listen on {listen}: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "cairn-wan {listen} -> {upstream}, {} ms each way",
        delay.as_millis()
    );
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let upstream = upstream.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay * 2).await;
            match TcpStream::connect(&upstream).await {
                Ok(server) => relay(client, server, delay).await,
                Err(e) => eprintln!("cairn-wan: cannot reach {upstream}: {e}"),
            }
        });
    }
}

async fn relay(client: TcpStream, server: TcpStream, delay: Duration) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    tokio::join!(one_way(cr, sw, delay), one_way(sr, cw, delay));
}

/// Forwards `from` to `to`, each chunk `delay` after it arrived; end of
/// stream is delayed the same way.
async fn one_way(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(1024);
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = from.read(&mut buf).await.unwrap_or(0);
            // An empty chunk carries the end of the stream.
            if tx
                .send((Instant::now() + delay, buf[..n].to_vec()))
                .await
                .is_err()
                || n == 0
            {
                break;
            }
        }
    };
    let writer = async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if chunk.is_empty() || to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
