//! What every subcommand shares: the global flags, configuration from `--command-config`,
//! errors with exit codes, tables, parsing helpers.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use kafka_admin::{AdminClient, AdminConfig};
use kafka_client::ClientConfig;
use kafka_client::config::Properties;

/// Flags every subcommand accepts.
#[derive(Args, Debug, Clone)]
pub(crate) struct Global {
    /// Kafka brokers to bootstrap from (`host:port[,host:port…]`).
    #[arg(
        long,
        short = 'b',
        global = true,
        env = "KAFKA_BOOTSTRAP_SERVERS",
        default_value = "localhost:9092",
        value_name = "HOST:PORT"
    )]
    pub(crate) bootstrap_server: String,
    /// A Java properties file with client settings (security.protocol, sasl.*, ssl.*,
    /// client.id, consumer settings…), passed to the admin client and the consumer.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) command_config: Option<PathBuf>,
    /// Timeout of each cluster operation, in milliseconds.
    #[arg(long, global = true, default_value_t = 30_000, value_name = "MS")]
    pub(crate) timeout_ms: u64,
}

/// A failed command: usage/config errors exit with 2, failed operations with 1.
#[derive(Debug)]
pub(crate) enum CliError {
    /// Bad arguments or configuration (exit code 2).
    Usage(String),
    /// The operation failed (exit code 1).
    Failed(String),
}

impl CliError {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) => 1,
        }
    }
    pub(crate) fn message(&self) -> &str {
        match self {
            CliError::Usage(m) | CliError::Failed(m) => m,
        }
    }
}

/// Shorthand for an operation failure with context.
pub(crate) fn failed(ctx: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Failed(format!("{ctx}: {e}"))
}

/// Shorthand for a usage error.
pub(crate) fn usage(msg: impl Into<String>) -> CliError {
    CliError::Usage(msg.into())
}

pub(crate) type CliResult<T = ()> = Result<T, CliError>;

impl Global {
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The `--command-config` properties (empty without the flag) with `bootstrap.servers`
    /// from `--bootstrap-server` on top.
    pub(crate) fn properties(&self) -> CliResult<BTreeMap<String, String>> {
        let mut props = match &self.command_config {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    usage(format!("cannot read --command-config {}: {e}", p.display()))
                })?;
                kafka_broker::config::parse_properties(&text)
                    .map_err(|e| usage(format!("--command-config {}: {e}", p.display())))?
            }
            None => BTreeMap::new(),
        };
        props.insert("bootstrap.servers".into(), self.bootstrap_server.clone());
        props
            .entry("default.api.timeout.ms".into())
            .or_insert_with(|| self.timeout_ms.to_string());
        Ok(props)
    }

    /// The client core's settings; keys the core does not know are ignored with a note.
    pub(crate) fn client_config(&self) -> CliResult<ClientConfig> {
        let mut p = Properties::new(self.properties()?);
        let c =
            ClientConfig::take_from(&mut p).map_err(|e| usage(format!("configuration: {e}")))?;
        let rest: Vec<&str> = p.remaining().collect();
        if !rest.is_empty() {
            eprintln!(
                "note: ignoring settings the admin client does not use: {}",
                rest.join(", ")
            );
        }
        Ok(c)
    }

    /// Connects an admin client.
    pub(crate) async fn admin(&self) -> CliResult<AdminClient> {
        let cfg = AdminConfig::new(self.client_config()?);
        tokio::time::timeout(self.timeout(), AdminClient::connect(cfg))
            .await
            .map_err(|_| {
                CliError::Failed(format!(
                    "cannot reach {} within {} ms",
                    self.bootstrap_server, self.timeout_ms
                ))
            })?
            .map_err(|e| failed(&format!("cannot connect to {}", self.bootstrap_server), e))
    }
}

/// Splits `key=value`.
pub(crate) fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{s}` is not key=value"))
}

/// A timestamp: milliseconds since the epoch, or an RFC 3339 / ISO date-time
/// (`2024-05-01T12:00:00Z`, `2024-05-01 12:00:00` is read as UTC).
pub(crate) fn parse_timestamp(s: &str) -> Result<i64, String> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    let t = humantime::parse_rfc3339_weak(s)
        .or_else(|_| humantime::parse_rfc3339_weak(&format!("{s}T00:00:00")))
        .map_err(|e| {
            format!("`{s}` is neither milliseconds nor a date-time like 2024-05-01T12:00:00Z ({e})")
        })?;
    let d = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| format!("`{s}` is before 1970"))?;
    i64::try_from(d.as_millis()).map_err(|_| format!("`{s}` is too far in the future"))
}

/// A left-aligned text table written to stdout.
#[derive(Debug, Default)]
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Table {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }
    pub(crate) fn row<S: ToString>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows
            .push(cells.into_iter().map(|c| c.to_string()).collect());
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    pub(crate) fn render(&self) -> String {
        let n = self.header.len();
        let mut w: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate().take(n) {
                if i + 1 == n {
                    s.push_str(c);
                } else {
                    s.push_str(&format!("{c:<width$}  ", width = w[i]));
                }
            }
            s.trim_end().to_string()
        };
        let mut out = line(&self.header);
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r));
            out.push('\n');
        }
        out
    }
    pub(crate) fn print(&self) {
        out(&self.render());
    }
}

/// Writes to stdout, ignoring a closed pipe (`kafka … | head`).
pub(crate) fn out(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

/// Joins a list of broker ids.
pub(crate) fn ids(v: &[i32]) -> String {
    v.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1700000000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Ok(1000));
        assert_eq!(parse_timestamp("1970-01-02"), Ok(86_400_000));
        assert!(parse_timestamp("yesterday").is_err());
    }

    #[test]
    fn kv_and_table() {
        assert_eq!(key_value("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(key_value("=x").is_err());
        assert!(key_value("nothing").is_err());
        let mut t = Table::new(["A", "BB"]);
        t.row(["xxx", "y"]);
        assert_eq!(t.render(), "A    BB\nxxx  y\n");
    }
}
