//! The connection loop of the service: HTTP/1.1 through hyper with a cap on open connections,
//! a time limit on reading a request head (slow-header clients are cut off), an idle limit on
//! connections whose reads and writes both stall (a client that stops reading a large
//! answer), and a graceful shutdown that lets requests in flight finish.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

/// Limits on connections (request limits are [`crate::Limits`]).
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Most connections open at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// Longest a client may take to send a request head, counted from when the server is
    /// ready to read one (so it also closes a kept-alive connection that sends nothing).
    pub header_read_timeout: Duration,
    /// Longest a connection may go without a byte read or written; must exceed the request
    /// timeout, since a request being worked on moves no bytes. Also the longest the server
    /// waits at shutdown for answers still being sent.
    pub idle_timeout: Duration,
    /// Slowest a client may take an answer while the server has bytes waiting for it, in bytes
    /// a second over 10-second windows: a client that reads a large answer a byte at a time
    /// would otherwise hold its memory for as long as it likes.
    pub min_send_rate: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(90),
            min_send_rate: 16 * 1024,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and waits
/// for the requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let place = tokio::select! {
            place = Arc::clone(&connections).acquire_owned() => place.map_err(io::Error::other)?,
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(IdleTimeout::new(stream, limits.idle_timeout, limits.min_send_rate));
        let service = TowerToHyperService::new(router.clone());
        let mut stopped = stopped.clone();
        let header_read_timeout = limits.header_read_timeout;
        tasks.spawn(async move {
            let _place = place;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
            let connection = builder.serve_connection(io, service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!("connection closed: {e}");
                    }
                }
                _ = stopped.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    // New clients get a refused connection, not a wait in the backlog.
    drop(listener);
    let _ = stop.send(true);
    let drained =
        tokio::time::timeout(limits.idle_timeout, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            "shutdown: {} connections still open after {:?}; closing them",
            tasks.len(),
            limits.idle_timeout
        );
        tasks.abort_all();
    }
    Ok(())
}

/// The window over which [`ServerLimits::min_send_rate`] is measured.
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// A connection that fails with `TimedOut` when neither a read nor a write has made progress
/// for `idle`, or when the client takes what the server has to send more slowly than
/// `min_send_rate` bytes a second.
struct IdleTimeout<T> {
    inner: T,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    min_send_rate: usize,
    /// While writes stall: when the window began, bytes sent since, and the last stall.
    window: Option<SendWindow>,
    window_end: Pin<Box<Sleep>>,
}

#[derive(Clone, Copy)]
struct SendWindow {
    start: Instant,
    sent: usize,
    last_stall: Instant,
}

impl<T> IdleTimeout<T> {
    fn new(inner: T, idle: Duration, min_send_rate: usize) -> Self {
        Self {
            inner,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
            min_send_rate,
            window: None,
            window_end: Box::pin(tokio::time::sleep(RATE_WINDOW)),
        }
    }

    fn progressed(&mut self) {
        let next = Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }

    fn sent(&mut self, n: usize) {
        self.progressed();
        if let Some(w) = &mut self.window {
            w.sent = w.sent.saturating_add(n);
        }
    }

    /// A write could not go out: the client is not taking what there is. Fails once a whole
    /// window of stalls moved less than the minimum rate.
    fn write_stalled<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let now = Instant::now();
        let window = match self.window {
            // A fresh window: none yet, or the last stall is a window old (the client kept up).
            None => None,
            Some(w) if now.duration_since(w.last_stall) > RATE_WINDOW => None,
            Some(w) => Some(w),
        };
        let mut window = window.unwrap_or_else(|| {
            self.window_end.as_mut().reset(now + RATE_WINDOW);
            SendWindow { start: now, sent: 0, last_stall: now }
        });
        window.last_stall = now;
        if now.duration_since(window.start) >= RATE_WINDOW {
            let needed = self.min_send_rate.saturating_mul(RATE_WINDOW.as_secs() as usize);
            if window.sent < needed {
                self.window = None;
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "client reads too slowly")));
            }
            window = SendWindow { start: now, sent: 0, last_stall: now };
            self.window_end.as_mut().reset(now + RATE_WINDOW);
        }
        self.window = Some(window);
        // Wake at the window's end to judge it even if the client sends nothing more.
        let _ = self.window_end.as_mut().poll(cx);
        self.stalled(cx)
    }

    /// `Pending`, unless the idle limit has passed.
    fn stalled<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "connection idle"))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.progressed();
                Poll::Ready(result)
            }
            Poll::Pending => this.stalled(cx),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, data) {
            Poll::Ready(result) => {
                this.sent(*result.as_ref().unwrap_or(&0));
                Poll::Ready(result)
            }
            Poll::Pending => this.write_stalled(cx),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => this.write_stalled(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                this.sent(*result.as_ref().unwrap_or(&0));
                Poll::Ready(result)
            }
            Poll::Pending => this.write_stalled(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_stalled_connection_times_out_and_a_busy_one_does_not() {
        let (client, server) = tokio::io::duplex(64);
        let mut idle = IdleTimeout::new(server, Duration::from_millis(200), 0);
        let mut client = client;
        let writer = tokio::spawn(async move {
            for _ in 0..5 {
                client.write_all(b"x").await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            client
        });
        let mut got = [0u8; 5];
        idle.read_exact(&mut got).await.expect("bytes every 100 ms keep it open");
        let _client = writer.await.unwrap();
        let mut more = [0u8; 1];
        let err = idle.read(&mut more).await.expect_err("then nothing for 200 ms");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_reads_too_slowly_is_cut_off() {
        // A 1 KiB pipe: the server's writes stall unless the client reads.
        let (mut client, server) = tokio::io::duplex(1024);
        let mut conn = IdleTimeout::new(server, Duration::from_secs(3600), 1024);
        let reader = tokio::spawn(async move {
            let mut byte = [0u8; 16];
            // 16 bytes a second: far under 1 KiB/s.
            while client.read(&mut byte).await.is_ok_and(|n| n > 0) {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let answer = vec![7u8; 1 << 20];
        let err = conn.write_all(&answer).await.expect_err("cut off");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        drop(conn);
        reader.await.unwrap();

        // One that keeps up is not.
        let (mut client, server) = tokio::io::duplex(1024);
        let mut conn = IdleTimeout::new(server, Duration::from_secs(3600), 1024);
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0;
            while let Ok(n) = client.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                total += n;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            total
        });
        conn.write_all(&answer[..200 * 1024]).await.expect("a reader at ~10 KiB/s keeps up");
        drop(conn);
        assert_eq!(reader.await.unwrap(), 200 * 1024);
    }
}
