//! A lean HTTP/1.1 GET client for plain `http://` targets: one kept-alive
//! connection per request in flight, the request written directly and the
//! response head parsed by `httparse` (hyper's own parser).
//!
//! reqwest spends about 47 µs of CPU per request on this machine (its pool,
//! a connection task, channel hops between them); the targets it measures
//! serve a 4 KiB hit in less. This path spends a fraction of that, so the
//! bench can out-drive what it measures.
//!
//! A stampede's connections also ask the kernel when each response's first
//! byte arrived (`SO_TIMESTAMPING`, software receive stamps): 500 readers
//! share two cores with the server they measure, and the moment a reader
//! task gets to run is the bench's delay, not the server's.
//!
//! It reads `Content-Length` bodies only, which is what S3 endpoints, edges
//! and nginx send for objects; anything else is counted as an error kind.

use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connections to one `host:port`, reused across requests. Requests carry
/// their URL's own authority as `Host` (a virtual-hosted bucket's name).
pub struct Pool {
    /// Where connections go.
    connect: String,
    idle: Mutex<Vec<Conn>>,
}

pub struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    /// The socket stamps what it receives ([`Pool::connect_timed`]).
    timed: bool,
    /// When the current response's first byte arrived, once read.
    arrived: Option<Instant>,
}

/// A response's status line and the headers the bench looks at.
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    pub len: u64,
    pub x_cache: Option<String>,
    /// The server will close the connection after this response.
    pub close: bool,
}

impl Pool {
    /// A pool for `base`, or `None` when it is not plain `http://` (those
    /// targets go through reqwest).
    pub fn new(base: &str) -> Option<Self> {
        let url = reqwest::Url::parse(base).ok()?;
        if url.scheme() != "http" {
            return None;
        }
        Some(Self {
            connect: format!("{}:{}", url.host_str()?, url.port_or_known_default()?),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// A connection: an idle one, or a new one.
    pub async fn conn(&self) -> Result<(Conn, bool), String> {
        if let Some(c) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok((c, true));
        }
        Ok((self.connect().await?, false))
    }

    /// A new connection of its own.
    pub async fn connect(&self) -> Result<Conn, String> {
        let stream = TcpStream::connect(&self.connect)
            .await
            .map_err(|_| "connect".to_owned())?;
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
            timed: false,
            arrived: None,
        })
    }

    /// A new connection that learns when each response's first byte
    /// arrived.
    pub async fn connect_timed(&self) -> Result<Conn, String> {
        use nix::sys::socket::{setsockopt, sockopt::Timestamping, TimestampingFlag};
        let mut conn = self.connect().await?;
        let flags = TimestampingFlag::SOF_TIMESTAMPING_RX_SOFTWARE
            | TimestampingFlag::SOF_TIMESTAMPING_SOFTWARE;
        setsockopt(&conn.stream, Timestamping, &flags).map_err(|_| "timestamping".to_owned())?;
        conn.timed = true;
        Ok(conn)
    }

    /// The Host header (the URL's authority, as signed) and the request
    /// target of an `http://` URL built by `Target::url` (which always has
    /// a path).
    pub fn target(url: &str) -> (&str, &str) {
        let rest = url.strip_prefix("http://").unwrap_or(url);
        match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        }
    }

    pub fn give_back(&self, conn: Conn) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
    }

    /// Sends `GET url` and reads its head, retrying once on a fresh
    /// connection when a reused one turns out closed by the server.
    pub async fn get(
        &self,
        url: &str,
        headers: &[(String, String)],
    ) -> Result<(Conn, Head), String> {
        let (host, target) = Self::target(url);
        let (mut conn, reused) = self.conn().await?;
        match conn.send(host, target, headers).await {
            Ok(head) => Ok((conn, head)),
            Err(_) if reused => {
                let mut conn = self.connect().await?;
                let head = conn.send(host, target, headers).await?;
                Ok((conn, head))
            }
            Err(e) => Err(e),
        }
    }
}

impl Conn {
    /// Writes a GET and reads the response head.
    pub async fn send(
        &mut self,
        host: &str,
        target: &str,
        headers: &[(String, String)],
    ) -> Result<Head, String> {
        self.request(host, target, headers).await?;
        self.head().await
    }

    /// Writes a GET.
    pub async fn request(
        &mut self,
        host: &str,
        target: &str,
        headers: &[(String, String)],
    ) -> Result<(), String> {
        let mut req = format!("GET {target} HTTP/1.1\r\nhost: {host}\r\n");
        for (k, v) in headers {
            req.push_str(k);
            req.push_str(": ");
            req.push_str(v);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        self.arrived = None;
        self.stream
            .write_all(req.as_bytes())
            .await
            .map_err(|_| "write".to_owned())
    }

    /// Reads the response head.
    pub async fn head(&mut self) -> Result<Head, String> {
        loop {
            let mut names = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut names);
            match resp.parse(&self.buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let head = head_of(&resp)?;
                    self.buf.advance(n);
                    return Ok(head);
                }
                Ok(httparse::Status::Partial) => {}
                Err(_) => return Err("parse".into()),
            }
            if self.read_more().await? == 0 {
                return Err("closed".into());
            }
        }
    }

    /// Waits until some of the response has arrived, without reading on
    /// (for timing its first byte); on a timed connection, returns when the
    /// kernel received the response's first byte.
    pub async fn first_bytes(&mut self) -> Result<Option<Instant>, String> {
        while self.buf.is_empty() {
            if self.read_more().await? == 0 {
                return Err("closed".into());
            }
        }
        Ok(self.arrived)
    }

    /// Reads a body of `len` bytes, handing each piece to `f` as it comes.
    pub async fn body(&mut self, len: u64, mut f: impl FnMut(&[u8])) -> Result<(), String> {
        let mut left = len;
        loop {
            let take = (self.buf.len() as u64).min(left) as usize;
            if take > 0 {
                f(&self.buf[..take]);
                self.buf.advance(take);
                left -= take as u64;
            }
            if left == 0 {
                return Ok(());
            }
            if self.read_more().await? == 0 {
                return Err("closed".into());
            }
        }
    }

    async fn read_more(&mut self) -> Result<usize, String> {
        if self.timed && self.arrived.is_none() {
            return self.read_first_byte().await;
        }
        if self.buf.capacity() - self.buf.len() < 16 * 1024 {
            self.buf.reserve(64 * 1024);
        }
        self.stream
            .read_buf(&mut self.buf)
            .await
            .map_err(|_| "read".to_owned())
    }

    /// Reads a response's first byte alone, through `recvmsg`, keeping the
    /// kernel's receive stamp: for TCP that is the stamp of the last segment
    /// the read took bytes from, so a larger read of a response read late
    /// would be stamped with a later segment's arrival.
    async fn read_first_byte(&mut self) -> Result<usize, String> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, Timestamps};
        let mut chunk = [0u8; 1];
        let fd = self.stream.as_raw_fd();
        loop {
            self.stream
                .readable()
                .await
                .map_err(|_| "read".to_owned())?;
            let read = self.stream.try_io(tokio::io::Interest::READABLE, || {
                let mut iov = [std::io::IoSliceMut::new(&mut chunk)];
                let mut cmsg = nix::cmsg_space!(Timestamps);
                let msg = recvmsg::<()>(fd, &mut iov, Some(&mut cmsg), MsgFlags::empty())?;
                let stamp = msg.cmsgs()?.find_map(|c| match c {
                    ControlMessageOwned::ScmTimestampsns(t) => Some(t.system),
                    _ => None,
                });
                Ok((msg.bytes, stamp))
            });
            match read {
                Ok((n, stamp)) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    self.arrived = stamp.map(|t| {
                        let at = SystemTime::UNIX_EPOCH
                            + Duration::new(t.tv_sec().max(0) as u64, t.tv_nsec().max(0) as u32);
                        let (now, wall) = (Instant::now(), SystemTime::now());
                        now.checked_sub(wall.duration_since(at).unwrap_or_default())
                            .unwrap_or(now)
                    });
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return Err("read".into()),
            }
        }
    }
}

fn head_of(resp: &httparse::Response) -> Result<Head, String> {
    let mut head = Head {
        status: resp.code.ok_or("parse")?,
        len: 0,
        x_cache: None,
        close: resp.version == Some(0),
    };
    let mut has_len = false;
    for h in resp.headers.iter() {
        let value = std::str::from_utf8(h.value).map_err(|_| "parse")?;
        if h.name.eq_ignore_ascii_case("content-length") {
            head.len = value.trim().parse().map_err(|_| "parse")?;
            has_len = true;
        } else if h.name.eq_ignore_ascii_case("x-cache") {
            head.x_cache = Some(value.to_owned());
        } else if h.name.eq_ignore_ascii_case("connection") {
            head.close = value.eq_ignore_ascii_case("close");
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("chunked body (not read by the lean client)".into());
        }
    }
    // Only bodiless statuses may leave the length out.
    let bodiless = head.status == 304 || head.status == 204 || head.status < 200;
    if !has_len && !bodiless {
        return Err("no content-length".into());
    }
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_parsed_with_length_cache_state_and_close() {
        let raw =
            b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-Cache: HIT\r\nConnection: close\r\n\r\n";
        let mut names = [httparse::EMPTY_HEADER; 8];
        let mut resp = httparse::Response::new(&mut names);
        assert!(resp.parse(raw).unwrap().is_complete());
        let h = head_of(&resp).unwrap();
        assert_eq!(
            (h.status, h.len, h.x_cache.as_deref(), h.close),
            (200, 12, Some("HIT"), true)
        );
    }

    /// The stamp is when the response's first byte reached the socket, not
    /// when the reader got to it.
    #[tokio::test]
    async fn a_timed_connection_stamps_the_first_bytes_arrival() {
        const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (sent_tx, sent_rx) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut req = [0u8; 1024];
            // Exchanges until one comes back stamped (the kernel turns
            // stamping on a moment after it is first asked), then the
            // measured one.
            loop {
                let n = sock.read(&mut req).await.unwrap();
                if req[..n].starts_with(b"GET /measured") {
                    break;
                }
                sock.write_all(RESPONSE).await.unwrap();
            }
            let before = Instant::now();
            sock.write_all(RESPONSE).await.unwrap();
            sent_tx.send(before).unwrap();
            // Hold the connection open until the client is done.
            let _ = sock.read(&mut req).await;
        });
        let pool = Pool::new(&format!("http://{addr}")).unwrap();
        let mut conn = pool.connect_timed().await.unwrap();
        for _ in 0..1000 {
            let head = conn.send("x", "/health", &[]).await.unwrap();
            conn.first_bytes().await.unwrap();
            conn.body(head.len, |_| {}).await.unwrap();
            if conn.arrived.is_some() {
                break;
            }
        }
        conn.arrived = None;
        conn.stream
            .write_all(b"GET /measured HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let before = sent_rx.await.unwrap();
        // The reader comes late; the stamp must not.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let late = Instant::now();
        while !conn.buf.ends_with(b"hello") {
            conn.read_more().await.unwrap();
        }
        let arrived = conn.arrived.expect("a receive stamp");
        assert!(arrived >= before, "stamped before it was sent");
        assert!(arrived < late, "stamped when read, not when it arrived");
        drop(conn);
        server.await.unwrap();
    }

    #[test]
    fn chunked_and_lengthless_bodies_are_refused() {
        for raw in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            &b"HTTP/1.1 200 OK\r\n\r\n"[..],
        ] {
            let mut names = [httparse::EMPTY_HEADER; 8];
            let mut resp = httparse::Response::new(&mut names);
            resp.parse(raw).unwrap();
            assert!(head_of(&resp).is_err());
        }
    }

    #[test]
    fn only_plain_http_gets_a_pool() {
        assert!(Pool::new("https://example.com").is_none());
        let p = Pool::new("http://127.0.0.1:9000/prefix").unwrap();
        assert_eq!(p.connect, "127.0.0.1:9000");
        assert_eq!(
            Pool::new("http://localhost").unwrap().connect,
            "localhost:80"
        );
    }

    #[test]
    fn hosts_and_targets_come_from_the_url() {
        let t = Pool::target;
        assert_eq!(
            t("http://127.0.0.1:9000/b/k?x=1"),
            ("127.0.0.1:9000", "/b/k?x=1")
        );
        assert_eq!(
            t("http://b.localhost:9000/?list-type=2"),
            ("b.localhost:9000", "/?list-type=2")
        );
        assert_eq!(t("http://example.com"), ("example.com", "/"));
    }
}
