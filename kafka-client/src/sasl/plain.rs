//! SASL PLAIN ([RFC 4616](https://www.rfc-editor.org/rfc/rfc4616)): one message,
//! `[authzid] NUL authcid NUL passwd`. Sends the password in clear: use it over TLS.

use std::fmt;

use super::{SaslMechanism, SaslSession};
use crate::Error;

/// The PLAIN mechanism with its credentials. `Debug` redacts the password.
///
/// ```
/// use kafka_client::sasl::{Plain, SaslMechanism};
/// let mut s = Plain::new("alice", "alice-secret").start()?;
/// assert_eq!(s.step(None)?.unwrap(), b"\0alice\0alice-secret");
/// # Ok::<(), kafka_client::Error>(())
/// ```
#[derive(Clone)]
pub struct Plain {
    /// The user (authentication identity).
    pub username: String,
    /// The password.
    pub password: String,
    /// Authorization identity, if any (Kafka accepts only one equal to `username`).
    pub authzid: Option<String>,
}

impl Plain {
    /// PLAIN for `username` / `password`, no authorization identity.
    ///
    /// ```
    /// let p = kafka_client::sasl::Plain::new("u", "p");
    /// assert!(p.authzid.is_none());
    /// ```
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Plain {
        Plain {
            username: username.into(),
            password: password.into(),
            authzid: None,
        }
    }
}

impl fmt::Debug for Plain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plain")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("authzid", &self.authzid)
            .finish()
    }
}

impl SaslMechanism for Plain {
    fn name(&self) -> &str {
        "PLAIN"
    }

    fn start(&self) -> Result<Box<dyn SaslSession>, Error> {
        let authzid = self.authzid.as_deref().unwrap_or("");
        for (what, v) in [
            ("authzid", authzid),
            ("username", &self.username),
            ("password", &self.password),
        ] {
            if v.contains('\0') {
                return Err(Error::Sasl(format!("PLAIN {what} contains NUL")));
            }
        }
        if self.username.is_empty() {
            return Err(Error::Sasl("PLAIN username is empty".into()));
        }
        let mut msg =
            Vec::with_capacity(authzid.len() + self.username.len() + self.password.len() + 2);
        msg.extend_from_slice(authzid.as_bytes());
        msg.push(0);
        msg.extend_from_slice(self.username.as_bytes());
        msg.push(0);
        msg.extend_from_slice(self.password.as_bytes());
        Ok(Box::new(PlainSession {
            first: Some(msg),
            done: false,
        }))
    }
}

struct PlainSession {
    first: Option<Vec<u8>>,
    done: bool,
}

impl SaslSession for PlainSession {
    fn step(&mut self, server: Option<&[u8]>) -> Result<Option<Vec<u8>>, Error> {
        if self.done {
            return Err(Error::Sasl("PLAIN: step called after completion".into()));
        }
        match (server, self.first.take()) {
            (None, Some(msg)) => Ok(Some(msg)),
            (Some([]), None) => {
                self.done = true;
                Ok(None)
            }
            (Some(b), None) => Err(Error::Sasl(format!(
                "PLAIN: unexpected server message ({} bytes)",
                b.len()
            ))),
            _ => Err(Error::Sasl("PLAIN: step called out of order".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn rfc4616_message() {
        let mut p = Plain::new("tim", "tanstaaftanstaaf");
        p.authzid = Some("Ursel".into());
        let mut s = p.start().unwrap();
        assert_eq!(
            s.step(None).unwrap().unwrap(),
            b"Ursel\0tim\0tanstaaftanstaaf"
        );
        assert_eq!(s.step(Some(b"")).unwrap(), None);
        assert!(s.step(Some(b"")).is_err());
    }

    #[test]
    fn kafka_shape_and_checks() {
        let mut s = Plain::new("admin", "admin-secret").start().unwrap();
        assert_eq!(s.step(None).unwrap().unwrap(), b"\0admin\0admin-secret");
        assert!(s.step(Some(b"x")).is_err());
        assert!(Plain::new("a\0b", "p").start().is_err());
        assert!(Plain::new("", "p").start().is_err());
        assert!(!format!("{:?}", Plain::new("u", "hunter2")).contains("hunter2"));
    }
}
