//! The client's socket: name resolution (a name that does not resolve is a `dns` error, a refused
//! connection a `connect` error), plain TCP or rustls over TCP, a reply reader over one receive
//! buffer that never grows past `ReplyLimits` (endless `250-` lines or a 1 MiB line are a
//! `protocol` error, a drip that outlasts the timeout a `timeout` error), and timed writes.
//!
//! The reply parser is `proto::Reply::parse` (sans-IO); this file only moves bytes.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::{Error, ErrorKind, Result};
use crate::proto::{Reply, ReplyLimits};

/// How much we ask the socket for at a time.
const READ_CHUNK: usize = 8 * 1024;

/// Plain or TLS, so that STARTTLS can swap one for the other in place.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// After a failed upgrade: nothing left to talk to.
    Gone,
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Gone => Poll::Ready(Ok(())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// One connection: the stream and its receive buffer.
pub(crate) struct Conn {
    stream: Stream,
    rbuf: Vec<u8>,
    rpos: usize,
    limits: ReplyLimits,
    /// Our end of the TCP connection (for the EHLO address literal).
    local: SocketAddr,
}

fn timeout_err(what: &str, t: Duration) -> Error {
    Error::timeout(format!("{what}: no complete reply within {:.3}s", t.as_secs_f64()))
}

fn io_err(what: &str, e: io::Error) -> Error {
    let kind = Error::from(io::Error::new(e.kind(), "")).kind();
    Error::new(kind, format!("{what}: {e}"))
}

/// Resolve (unless `host` is an address) and connect. A resolver failure or an empty answer is
/// `dns`; a refusal of every address `connect` (the last one's error).
async fn open(host: &str, port: u16) -> Result<TcpStream> {
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| Error::new(ErrorKind::Dns, format!("{host} does not resolve: {e}")))?
            .collect(),
    };
    let mut last = None;
    let several = addrs.len() > 1;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) if several => last = Some(format!("{e} (last address tried: {addr})")),
            Err(e) => last = Some(e.to_string()),
        }
    }
    Err(match last {
        Some(why) => Error::new(ErrorKind::Connect, why),
        None => Error::new(ErrorKind::Dns, format!("{host} resolves to no address")),
    })
}

impl Conn {
    /// Resolve `host` and connect to `host:port`, all within `t`, TCP_NODELAY on. Each address
    /// the name resolves to is tried in turn; the last refusal is the error.
    pub(crate) async fn connect(host: &str, port: u16, t: Duration, limits: ReplyLimits) -> Result<Conn> {
        let target = host.trim_start_matches('[').trim_end_matches(']');
        let stream = match tokio::time::timeout(t, open(target, port)).await {
            Err(_) => return Err(Error::timeout(format!("connect to {host}:{port}: timed out"))),
            Ok(r) => {
                r.map_err(|e| Error::new(e.kind(), format!("connect to {host}:{port}: {}", e.message())))?
            }
        };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().map_err(|e| io_err("connect", e))?;
        Ok(Conn {
            stream: Stream::Plain(stream),
            rbuf: Vec::with_capacity(READ_CHUNK),
            rpos: 0,
            limits,
            local,
        })
    }

    /// Our end of the connection.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Wrap the connection in TLS (implicit TLS or after a STARTTLS 220). Whatever is still in
    /// the receive buffer is dropped first and its length returned: bytes the server sent
    /// before the handshake must never be read as post-TLS replies (response injection).
    pub(crate) async fn upgrade(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
        t: Duration,
    ) -> Result<usize> {
        let dropped = self.rbuf.len() - self.rpos;
        self.rbuf.clear();
        self.rpos = 0;
        let tcp = match std::mem::replace(&mut self.stream, Stream::Gone) {
            Stream::Plain(s) => s,
            other => {
                self.stream = other;
                return Err(Error::tls("TLS is already active on this connection"));
            }
        };
        let connector = TlsConnector::from(config);
        match tokio::time::timeout(t, connector.connect(name, tcp)).await {
            Err(_) => Err(Error::timeout("TLS handshake: timed out")),
            Ok(Err(e)) => Err(super::tls_error::handshake_error(&e)),
            Ok(Ok(s)) => {
                self.stream = Stream::Tls(Box::new(s));
                Ok(dropped)
            }
        }
    }

    /// True when TLS is active.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Write all of `data` and flush, within `t`.
    pub(crate) async fn write_all(&mut self, data: &[u8], t: Duration, what: &str) -> Result<()> {
        let fut = async {
            self.stream.write_all(data).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(t, fut).await {
            Err(_) => Err(Error::timeout(format!("{what}: write timed out"))),
            Ok(Err(e)) => Err(io_err(&format!("{what}: write"), e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Read one complete reply within `t` (the whole reply, however slowly it drips).
    pub(crate) async fn read_reply(&mut self, t: Duration, what: &str) -> Result<Reply> {
        if let Some(r) = self.try_parse()? {
            return Ok(r);
        }
        match tokio::time::timeout(t, self.read_reply_inner(what)).await {
            Err(_) => Err(timeout_err(what, t)),
            Ok(r) => r,
        }
    }

    fn try_parse(&mut self) -> Result<Option<Reply>> {
        if self.rpos == self.rbuf.len() {
            return Ok(None);
        }
        match Reply::parse(&self.rbuf[self.rpos..], &self.limits)? {
            Some((reply, used)) => {
                self.rpos += used;
                if self.rpos == self.rbuf.len() {
                    self.rbuf.clear();
                    self.rpos = 0;
                }
                Ok(Some(reply))
            }
            None => Ok(None),
        }
    }

    async fn read_reply_inner(&mut self, what: &str) -> Result<Reply> {
        let cap = self.limits.max_line.saturating_mul(self.limits.max_lines).max(READ_CHUNK);
        loop {
            if self.rpos > 0 {
                self.rbuf.drain(..self.rpos);
                self.rpos = 0;
            }
            if self.rbuf.len() >= cap {
                return Err(Error::protocol(format!("{what}: reply larger than {cap} bytes")));
            }
            let want = READ_CHUNK.min(cap - self.rbuf.len());
            self.rbuf.reserve(want);
            let n = (&mut self.stream)
                .take(want as u64)
                .read_buf(&mut self.rbuf)
                .await
                .map_err(|e| io_err(what, e))?;
            if n == 0 {
                return Err(Error::protocol(format!("{what}: connection closed by the server")));
            }
            if let Some(r) = self.try_parse()? {
                return Ok(r);
            }
        }
    }

    /// Drop the connection at once (no goodbye): for a session whose state is unknown.
    pub(crate) fn close_now(&mut self) {
        self.stream = Stream::Gone;
        self.rbuf.clear();
        self.rpos = 0;
    }

    /// Close the write side politely (best effort, bounded by `t`).
    pub(crate) async fn shutdown(&mut self, t: Duration) {
        let _ = tokio::time::timeout(t, self.stream.shutdown()).await;
        self.stream = Stream::Gone;
    }
}
