//! The TCP listener doable serves on, guarded against clients that hold
//! connections open without using them (slowloris and plain idle floods):
//! a connection that moves no byte either way for `CONNECTION_IDLE_SECONDS`
//! is closed, one client address holds at most `MAX_CONNECTIONS_PER_IP`
//! (its IPv6 /64 counting as one; a trusted proxy is exempt, since every
//! client comes through it), and past `MAX_CONNECTIONS` new connections wait
//! in the kernel's backlog instead of exhausting file descriptors.

use std::{
    io,
    net::{IpAddr, Ipv6Addr, SocketAddr},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
    time::{Instant, Sleep},
};

use crate::in_progress::{PerKey, Place};

/// The address of a connection's peer, as `ConnectInfo` carries it to the
/// handlers (the client IP before any `X-Forwarded-For`).
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, GuardedListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, GuardedListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// From `CONNECTION_IDLE_SECONDS`, `MAX_CONNECTIONS`, `MAX_CONNECTIONS_PER_IP`.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub idle: Duration,
    pub total: usize,
    pub per_ip: usize,
}

pub struct GuardedListener {
    inner: TcpListener,
    limits: ConnectionLimits,
    trusted_proxies: Vec<ipnet::IpNet>,
    slots: Arc<Semaphore>,
    per_client: PerKey<IpAddr>,
}

impl GuardedListener {
    pub fn new(inner: TcpListener, limits: ConnectionLimits, trusted_proxies: Vec<ipnet::IpNet>) -> Self {
        GuardedListener {
            inner,
            limits,
            trusted_proxies,
            slots: Arc::new(Semaphore::new(limits.total)),
            per_client: PerKey::new(limits.per_ip),
        }
    }

    /// Counts a connection from `ip` if it has room; `None` when it is full
    /// (a trusted proxy holds no count: every client comes through it).
    fn admit(&self, ip: IpAddr) -> Option<Option<Place<IpAddr>>> {
        if self.trusted_proxies.iter().any(|proxy| proxy.contains(&ip)) {
            return Some(None);
        }
        self.per_client.take(client_of(ip)).map(Some)
    }
}

/// An IPv6 client usually holds a whole /64: it counts as one address.
fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

impl axum::serve::Listener for GuardedListener {
    type Io = GuardedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let permit = self.slots.clone().acquire_owned().await.expect("the semaphore is never closed");
            let (stream, addr) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: wait for some to close.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                }
            };
            let Some(client) = self.admit(addr.ip()) else {
                tracing::warn!(event = "net.too_many_connections", ip = %addr.ip(), "connection refused: the client holds its limit");
                continue;
            };
            let _ = stream.set_nodelay(true);
            let idle = self.limits.idle;
            let io = GuardedStream {
                inner: stream,
                idle,
                deadline: Box::pin(tokio::time::sleep(idle)),
                _slot: (permit, client),
            };
            return (io, addr);
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection that fails with `TimedOut` once no byte has moved for the
/// idle limit (hyper then closes it). Longer than the request timeout, so a
/// slow answer is never cut: it is the silence between requests, or in the
/// middle of one, that is bounded.
pub struct GuardedStream {
    inner: TcpStream,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    _slot: (OwnedSemaphorePermit, Option<Place<IpAddr>>),
}

impl GuardedStream {
    fn moved(&mut self) {
        let next = Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }

    fn timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }

    /// A write that moved bytes resets the clock; one still waiting (a
    /// client that stopped reading) fails once the clock runs out.
    fn after_write(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        match polled {
            Poll::Ready(Ok(written)) => {
                if written > 0 {
                    self.moved();
                }
                Poll::Ready(Ok(written))
            }
            Poll::Pending if self.timed_out(cx) => Poll::Ready(Err(idle_error())),
            other => other,
        }
    }
}

fn idle_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection idle past CONNECTION_IDLE_SECONDS")
}

impl AsyncRead for GuardedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending if self.timed_out(cx) => Poll::Ready(Err(idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        self.after_write(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.after_write(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
