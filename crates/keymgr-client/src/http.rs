//! HTTP/1.1 over TCP or TLS to one server: the connection is kept alive between requests and
//! made again when the server closed it; every exchange is bounded in time and in size.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, Uri, header};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::ClientError;

/// An answer: its status and its whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The body, at most the client's `max_body` bytes.
    pub body: Vec<u8>,
}

/// How an [`HttpClient`] talks to its server.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// CA certificates (PEM) that https servers are checked against; Mozilla's roots when
    /// `None`. Only with an `https` URL.
    pub ca_pem: Option<Vec<u8>>,
    /// The longest one exchange (connecting included) may take.
    pub timeout: Duration,
    /// The largest answer body read; a larger one is an error.
    pub max_body: usize,
    /// Keep the connection for the next request (else one connection per request).
    pub keep_alive: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self { ca_pem: None, timeout: Duration::from_secs(30), max_body: 16 * 1024 * 1024, keep_alive: true }
    }
}

/// A client of one server, named by a base URL (`http://host:port/prefix` or `https://...`);
/// request paths are taken relative to the URL's path. Safe to share; requests on one client
/// take turns on its one connection.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    url: Uri,
    host: String,
    port: u16,
    tls: Option<tokio_rustls::TlsConnector>,
    options: HttpOptions,
    connection: Mutex<Option<Connection>>,
}

struct Connection {
    sender: SendRequest<Full<Bytes>>,
    _driver: AbortOnDrop,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("url", &self.inner.url)
            .field("tls", &self.inner.tls.is_some())
            .field("timeout", &self.inner.options.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client of `url` (`http://` or `https://`, no user information). The reason of a
    /// [`ClientError::Config`] names the part of the URL or option that is wrong.
    pub fn new(url: &str, options: HttpOptions) -> Result<Self, ClientError> {
        let bad = |why: &str| ClientError::Config(why.to_owned());
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("the scheme must be http or https")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user information in the URL is not supported"));
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        if options.timeout.is_zero() {
            return Err(bad("the timeout must be above 0"));
        }
        let tls = if https {
            Some(
                tls_connector(options.ca_pem.as_deref())
                    .map_err(|e| ClientError::Config(format!("TLS: {e}")))?,
            )
        } else if options.ca_pem.is_some() {
            return Err(bad("a CA file is only used with https"));
        } else {
            None
        };
        Ok(Self {
            inner: Arc::new(Inner { url: uri, host, port, tls, options, connection: Mutex::new(None) }),
        })
    }

    /// The base URL.
    pub fn url(&self) -> &Uri {
        &self.inner.url
    }

    /// `GET path` (relative to the base URL's path, query included).
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Result<HttpResponse, ClientError> {
        self.send(Method::GET, path, headers, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<HttpResponse, ClientError> {
        self.send(Method::POST, path, headers, Some(body)).await
    }

    /// One exchange within the time limit. A kept connection that the server closed meanwhile
    /// is replaced once; a request that may have reached the server is never sent twice.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<HttpResponse, ClientError> {
        let timeout = self.inner.options.timeout;
        tokio::time::timeout(timeout, self.exchange(method, path, headers, body))
            .await
            .map_err(|_| ClientError::Timeout(timeout))?
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<HttpResponse, ClientError> {
        let inner = &*self.inner;
        let target = self.target(path);
        let mut slot = inner.connection.lock().await;
        for attempt in 0..2 {
            let reused = slot.is_some();
            let connection = match slot.as_mut() {
                Some(c) => c,
                None => slot.insert(self.connect().await?),
            };
            if connection.sender.ready().await.is_err() {
                *slot = None;
                if reused && attempt == 0 {
                    continue;
                }
                return Err(ClientError::Http("the server closed the connection".into()));
            }
            let mut request = Request::builder()
                .method(method.clone())
                .uri(target.as_str())
                .header(header::HOST, inner.url.authority().map_or(inner.host.as_str(), |a| a.as_str()))
                .header(header::USER_AGENT, concat!("keymgr/", env!("CARGO_PKG_VERSION")));
            if body.is_some() {
                request = request.header(header::CONTENT_TYPE, "application/json");
            }
            if !inner.options.keep_alive {
                request = request.header(header::CONNECTION, "close");
            }
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let request = request
                .body(Full::new(Bytes::from(body.clone().unwrap_or_default())))
                .map_err(|e| ClientError::Http(format!("request: {e}")))?;
            let response = match connection.sender.send_request(request).await {
                Ok(response) => response,
                // Cancelled before it was written: the server never saw it.
                Err(e) if e.is_canceled() && reused && attempt == 0 => {
                    *slot = None;
                    continue;
                }
                Err(e) => {
                    *slot = None;
                    return Err(ClientError::Http(e.to_string()));
                }
            };
            let answer = self.read(response).await;
            if answer.is_err() || !inner.options.keep_alive {
                *slot = None;
            }
            return answer;
        }
        Err(ClientError::Http("the server closed the connection".into()))
    }

    /// The request target of `path` under the base URL; `""` is the base URL itself, query
    /// included.
    fn target(&self, path: &str) -> String {
        if path.is_empty() {
            return self.inner.url.path_and_query().map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        }
        let base = self.inner.url.path().trim_end_matches('/');
        if path.starts_with('/') { format!("{base}{path}") } else { format!("{base}/{path}") }
    }

    async fn read(
        &self,
        response: hyper::Response<hyper::body::Incoming>,
    ) -> Result<HttpResponse, ClientError> {
        let max = self.inner.options.max_body;
        let status = response.status().as_u16();
        let declared = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return Err(ClientError::TooLarge(max));
        }
        let mut body = response.into_body();
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ClientError::Http(format!("body: {e}")))?;
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > max {
                    return Err(ClientError::TooLarge(max));
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(HttpResponse { status, body: out })
    }

    async fn connect(&self) -> Result<Connection, ClientError> {
        let inner = &*self.inner;
        let tcp = TcpStream::connect((inner.host.as_str(), inner.port))
            .await
            .map_err(|e| ClientError::Connect(e.to_string()))?;
        // Requests are small and answered at once: no Nagle delay.
        let _ = tcp.set_nodelay(true);
        match &inner.tls {
            None => handshake(tcp).await,
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(inner.host.clone())
                    .map_err(|_| ClientError::Tls("the host is not a valid TLS server name".into()))?;
                let stream = tls.connect(name, tcp).await.map_err(|e| ClientError::Tls(e.to_string()))?;
                handshake(stream).await
            }
        }
    }
}

async fn handshake<S>(stream: S) -> Result<Connection, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ClientError::Http(e.to_string()))?;
    Ok(Connection { sender, _driver: AbortOnDrop(tokio::spawn(connection)) })
}

/// Stops a connection's task when the connection is dropped, whichever way.
struct AbortOnDrop(tokio::task::JoinHandle<Result<(), hyper::Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A TLS connector trusting the certificates of `ca_pem` (PEM, one or more), or Mozilla's
/// roots (`webpki-roots`) when `None`; TLS 1.2 and 1.3 on aws-lc-rs.
pub fn tls_connector(ca_pem: Option<&[u8]>) -> Result<tokio_rustls::TlsConnector, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("CA file: {e}"))?;
                roots.add(cert).map_err(|e| format!("CA file: {e}"))?;
                added += 1;
            }
            if added == 0 {
                return Err("the CA file holds no PEM certificate".into());
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_read() {
        let options = HttpOptions::default;
        for bad in ["ftp://h/x", "https://u:p@h/x", "not a url", "http:///x"] {
            assert!(matches!(HttpClient::new(bad, options()), Err(ClientError::Config(_))), "{bad}");
        }
        let with_ca = HttpOptions { ca_pem: Some(b"x".to_vec()), ..options() };
        assert!(HttpClient::new("http://h/x", with_ca.clone()).is_err(), "a CA file without https");
        assert!(HttpClient::new("https://h/x", with_ca).is_err(), "a CA file without PEM");
        let zero = HttpOptions { timeout: Duration::ZERO, ..options() };
        assert!(HttpClient::new("http://h/x", zero).is_err());
        let c = HttpClient::new("https://[::1]:8443/v1/keymanager/", options()).expect("client");
        assert_eq!((c.inner.host.as_str(), c.inner.port), ("::1", 8443));
        assert_eq!(c.target("/getCertificate?a=b"), "/v1/keymanager/getCertificate?a=b");
        assert_eq!(c.target("migrateBaseKey"), "/v1/keymanager/migrateBaseKey");
        let plain = HttpClient::new("http://idp", options()).expect("client");
        assert_eq!((plain.inner.port, plain.target("")), (80, "/".to_owned()));
        let jwks = HttpClient::new("http://idp/certs?realm=m", options()).expect("client");
        assert_eq!(jwks.target(""), "/certs?realm=m");
    }
}
