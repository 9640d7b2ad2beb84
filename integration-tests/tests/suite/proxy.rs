//! A loopback TCP proxy a case can stop (dropping every proxied connection) and restart on the
//! same port, and a client dialer that sends every broker connection through it: how the suite
//! simulates a broker outage in the middle of traffic.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kafka_client::Error;
use kafka_client::broker::{BoxTransport, DialFuture, Dialer};
use kafka_client::config::HostPort;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub(crate) struct Proxy {
    pub(crate) addr: std::net::SocketAddr,
    upstream: String,
    task: Option<tokio::task::JoinHandle<()>>,
    generation: Arc<AtomicUsize>,
    /// How many connections the dialer of [`Proxy::dialer`] has opened.
    pub(crate) dials: Arc<AtomicUsize>,
    /// While set, requests still reach the broker but its answers are dropped (a broker that
    /// went silent): see [`Proxy::swallow_responses`].
    swallow: Arc<AtomicBool>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub(crate) async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut p = Proxy {
            addr: listener.local_addr().unwrap(),
            upstream,
            task: None,
            generation: Arc::default(),
            dials: Arc::default(),
            swallow: Arc::default(),
        };
        p.run(listener);
        p
    }

    /// A dialer that connects every broker address to the proxy (single-node clusters).
    pub(crate) fn dialer(&self) -> Dialer {
        let (addr, dials) = (self.addr, self.dials.clone());
        Arc::new(move |_hp: HostPort| {
            dials.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                let s = TcpStream::connect(addr).await.map_err(|e| Error::Connect {
                    addr: addr.to_string(),
                    message: e.to_string(),
                })?;
                Ok(Box::new(s) as BoxTransport)
            }) as DialFuture
        })
    }

    fn run(&mut self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        let gen_now = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let generation = self.generation.clone();
        let swallow = self.swallow.clone();
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let upstream = upstream.clone();
                let generation = generation.clone();
                let swallow = swallow.clone();
                conns.spawn(async move {
                    let Ok(out) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut client_rd, mut client_wr) = inbound.split();
                    let (mut broker_rd, mut broker_wr) = out.into_split();
                    let answers = async {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = broker_rd.read(&mut buf).await?;
                            if n == 0 {
                                return Ok::<(), std::io::Error>(());
                            }
                            if !swallow.load(Ordering::SeqCst) {
                                client_wr.write_all(&buf[..n]).await?;
                            }
                        }
                    };
                    tokio::select! {
                        _ = tokio::io::copy(&mut client_rd, &mut broker_wr) => {}
                        _ = answers => {}
                        _ = async {
                            while generation.load(Ordering::SeqCst) == gen_now {
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                        } => {}
                    }
                });
            }
        }));
    }

    /// Drops (`true`) or forwards again (`false`) everything the broker sends. Stop and restart
    /// the proxy after swallowing: connections that lost part of a response are unusable.
    pub(crate) fn swallow_responses(&self, on: bool) {
        self.swallow.store(on, Ordering::SeqCst);
    }

    /// Kills the listener and every proxied connection.
    pub(crate) fn stop(&mut self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    /// Listens again on the same port.
    pub(crate) async fn restart(&mut self) {
        let end = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) => {
                    assert!(Instant::now() < end, "cannot rebind {}: {e}", self.addr);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        self.run(listener);
    }
}
