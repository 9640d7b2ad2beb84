//! SCRAM-SHA-256 and SCRAM-SHA-512 ([RFC 5802], [RFC 7677]) as Apache Kafka implements them.
//!
//! - GS2 header `n,,` (no channel binding), or `n,a=<authzid>,`;
//! - user names escaped as `saslname` (`=` → `=3D`, `,` → `=2C`);
//! - passwords are used as their UTF-8 bytes, without SASLprep, like Kafka's `ScramFormatter`;
//! - iteration counts below 4096 are refused (Kafka's minimum), as are counts above 1,000,000
//!   (Kafka stores at most 16384) so that a hostile server cannot stall the client;
//! - the server's signature in `server-final-message` is verified (constant-time compare), and
//!   an `e=` error from the server is returned as [`Error::Sasl`];
//! - optional extensions (Kafka's `tokenauth=true` for delegation tokens) are appended to the
//!   client-first message.
//!
//! ```
//! use kafka_client::sasl::{SaslMechanism, Scram, ScramHash};
//! let mech = Scram::new(ScramHash::Sha512, "alice", "alice-secret");
//! let mut session = mech.start()?;
//! let first = String::from_utf8(session.step(None)?.unwrap()).unwrap();
//! assert!(first.starts_with("n,,n=alice,r="));
//! # Ok::<(), kafka_client::Error>(())
//! ```
//!
//! [RFC 5802]: https://www.rfc-editor.org/rfc/rfc5802
//! [RFC 7677]: https://www.rfc-editor.org/rfc/rfc7677

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::digest::core_api::BlockSizeUser;
use hmac::digest::{Digest, FixedOutput, KeyInit, Update};
use hmac::{Mac, SimpleHmac};

use super::{SaslMechanism, SaslSession};
use crate::Error;

/// Kafka's minimum SCRAM iteration count (`ScramMechanism.minIterations`).
pub const MIN_ITERATIONS: u32 = 4096;
/// The largest iteration count the client accepts from a server.
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// The hash function of a SCRAM mechanism.
///
/// ```
/// use kafka_client::sasl::ScramHash;
/// assert_eq!(ScramHash::Sha256.mechanism_name(), "SCRAM-SHA-256");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

impl ScramHash {
    /// The SASL mechanism name.
    ///
    /// ```
    /// assert_eq!(kafka_client::sasl::ScramHash::Sha512.mechanism_name(), "SCRAM-SHA-512");
    /// ```
    pub fn mechanism_name(self) -> &'static str {
        match self {
            ScramHash::Sha256 => "SCRAM-SHA-256",
            ScramHash::Sha512 => "SCRAM-SHA-512",
        }
    }

    fn keys(self, password: &[u8], salt: &[u8], iterations: u32, auth_message: &[u8]) -> Keys {
        match self {
            ScramHash::Sha256 => keys::<sha2::Sha256>(password, salt, iterations, auth_message),
            ScramHash::Sha512 => keys::<sha2::Sha512>(password, salt, iterations, auth_message),
        }
    }
}

/// A SCRAM mechanism with its credentials. `Debug` redacts the password.
///
/// ```
/// use kafka_client::sasl::{SaslMechanism, Scram, ScramHash};
/// let m = Scram::new(ScramHash::Sha256, "alice", "alice-secret");
/// assert_eq!(m.name(), "SCRAM-SHA-256");
/// ```
#[derive(Clone)]
pub struct Scram {
    /// SHA-256 or SHA-512.
    pub hash: ScramHash,
    /// The user name (escaped on the wire).
    pub username: String,
    /// The password.
    pub password: String,
    /// Authorization identity for the GS2 header, if any.
    pub authzid: Option<String>,
    /// Extensions appended to the client-first message (`tokenauth` → `true` for Kafka
    /// delegation tokens).
    pub extensions: BTreeMap<String, String>,
}

impl Scram {
    /// SCRAM with `hash` for `username` / `password`.
    ///
    /// ```
    /// let m = kafka_client::sasl::Scram::new(kafka_client::sasl::ScramHash::Sha512, "u", "p");
    /// assert!(m.extensions.is_empty());
    /// ```
    pub fn new(hash: ScramHash, username: impl Into<String>, password: impl Into<String>) -> Scram {
        Scram {
            hash,
            username: username.into(),
            password: password.into(),
            authzid: None,
            extensions: BTreeMap::new(),
        }
    }

    fn start_with_nonce(&self, nonce: String) -> Result<ScramSession, Error> {
        check_extensions(&self.extensions)?;
        if self.username.is_empty() {
            return Err(Error::Sasl("SCRAM username is empty".into()));
        }
        let gs2_header = match &self.authzid {
            Some(a) => format!("n,a={},", escape_saslname(a)),
            None => "n,,".to_string(),
        };
        let mut bare = format!("n={},r={}", escape_saslname(&self.username), nonce);
        for (k, v) in &self.extensions {
            bare.push(',');
            bare.push_str(k);
            bare.push('=');
            bare.push_str(v);
        }
        Ok(ScramSession {
            hash: self.hash,
            password: self.password.clone(),
            client_nonce: nonce,
            gs2_header,
            client_first_bare: bare,
            state: State::Initial,
        })
    }
}

impl fmt::Debug for Scram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scram")
            .field("hash", &self.hash)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("authzid", &self.authzid)
            .field("extensions", &self.extensions)
            .finish()
    }
}

impl SaslMechanism for Scram {
    fn name(&self) -> &str {
        self.hash.mechanism_name()
    }

    fn start(&self) -> Result<Box<dyn SaslSession>, Error> {
        let mut raw = [0u8; 24];
        super::random_bytes(&mut raw)?;
        Ok(Box::new(self.start_with_nonce(B64.encode(raw))?))
    }
}

/// Checks SCRAM extensions: names of two or more ASCII letters (single letters are SCRAM's own
/// attributes), values of printable ASCII without `,`.
pub(crate) fn check_extensions(ext: &BTreeMap<String, String>) -> Result<(), Error> {
    for (k, v) in ext {
        if k.len() < 2 || !k.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(Error::Config {
                key: "sasl.extensions".into(),
                message: format!("invalid SCRAM extension name {k:?}"),
            });
        }
        if !v.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',') {
            return Err(Error::Config {
                key: "sasl.extensions".into(),
                message: format!("invalid SCRAM extension value for {k:?}"),
            });
        }
    }
    Ok(())
}

/// `saslname` escaping of RFC 5802: `=` → `=3D`, `,` → `=2C`.
fn escape_saslname(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

enum State {
    Initial,
    ServerFirst,
    ServerFinal { server_signature: Vec<u8> },
    Done,
}

struct ScramSession {
    hash: ScramHash,
    password: String,
    client_nonce: String,
    gs2_header: String,
    client_first_bare: String,
    state: State,
}

impl ScramSession {
    fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, Error> {
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| Error::Sasl("SCRAM server-first-message is not UTF-8".into()))?;
        let attrs = parse_attributes(server_first)?;
        if let Some(e) = attrs.get("e") {
            return Err(Error::Sasl(format!("SCRAM server error: {e}")));
        }
        if attrs.contains_key("m") {
            return Err(Error::Sasl(
                "SCRAM server requires an unsupported mandatory extension".into(),
            ));
        }
        let nonce = attrs
            .get("r")
            .ok_or_else(|| Error::Sasl("SCRAM server-first-message has no nonce".into()))?;
        if !nonce.starts_with(&self.client_nonce) || nonce.len() <= self.client_nonce.len() {
            return Err(Error::Sasl(
                "SCRAM server nonce does not extend the client nonce".into(),
            ));
        }
        let salt = attrs
            .get("s")
            .ok_or_else(|| Error::Sasl("SCRAM server-first-message has no salt".into()))
            .and_then(|s| {
                B64.decode(s)
                    .map_err(|_| Error::Sasl("SCRAM salt is not base64".into()))
            })?;
        if salt.is_empty() {
            return Err(Error::Sasl("SCRAM salt is empty".into()));
        }
        let iterations: u32 = attrs
            .get("i")
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| Error::Sasl("SCRAM iteration count missing or invalid".into()))?;
        if iterations < MIN_ITERATIONS {
            return Err(Error::Sasl(format!(
                "SCRAM iteration count {iterations} is below the minimum {MIN_ITERATIONS}"
            )));
        }
        if iterations > MAX_ITERATIONS {
            return Err(Error::Sasl(format!(
                "SCRAM iteration count {iterations} is above the maximum {MAX_ITERATIONS}"
            )));
        }
        let without_proof = format!("c={},r={}", B64.encode(&self.gs2_header), nonce);
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, server_first, without_proof
        );
        let keys = self.hash.keys(
            self.password.as_bytes(),
            &salt,
            iterations,
            auth_message.as_bytes(),
        );
        self.state = State::ServerFinal {
            server_signature: keys.server_signature,
        };
        Ok(format!("{without_proof},p={}", B64.encode(keys.client_proof)).into_bytes())
    }
}

impl SaslSession for ScramSession {
    fn step(&mut self, server: Option<&[u8]>) -> Result<Option<Vec<u8>>, Error> {
        match (std::mem::replace(&mut self.state, State::Done), server) {
            (State::Initial, None) => {
                self.state = State::ServerFirst;
                Ok(Some(
                    format!("{}{}", self.gs2_header, self.client_first_bare).into_bytes(),
                ))
            }
            (State::ServerFirst, Some(msg)) => self.client_final(msg).map(Some),
            (State::ServerFinal { server_signature }, Some(msg)) => {
                let msg = std::str::from_utf8(msg)
                    .map_err(|_| Error::Sasl("SCRAM server-final-message is not UTF-8".into()))?;
                let attrs = parse_attributes(msg)?;
                if let Some(e) = attrs.get("e") {
                    return Err(Error::Sasl(format!("SCRAM server error: {e}")));
                }
                let v = attrs
                    .get("v")
                    .ok_or_else(|| Error::Sasl("SCRAM server-final-message has no verifier".into()))
                    .and_then(|v| {
                        B64.decode(v)
                            .map_err(|_| Error::Sasl("SCRAM server verifier is not base64".into()))
                    })?;
                if !constant_time_eq(&v, &server_signature) {
                    return Err(Error::Sasl(
                        "SCRAM server signature is wrong: the server does not know the password"
                            .into(),
                    ));
                }
                Ok(None)
            }
            _ => Err(Error::Sasl("SCRAM: step called out of order".into())),
        }
    }
}

/// Parses `a=value,b=value,…` into single-letter attributes (later letters-only keys are
/// extensions and are kept too). The `e=` error value may itself contain no `,` per RFC 5802.
fn parse_attributes(msg: &str) -> Result<BTreeMap<&str, &str>, Error> {
    let mut out = BTreeMap::new();
    for part in msg.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| Error::Sasl(format!("malformed SCRAM attribute {part:?}")))?;
        out.entry(k).or_insert(v);
    }
    Ok(out)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

struct Keys {
    client_proof: Vec<u8>,
    server_signature: Vec<u8>,
}

fn hmac<D>(key: &[u8], data: &[u8]) -> Vec<u8>
where
    D: Digest + BlockSizeUser + Clone,
{
    // SimpleHmac accepts keys of any length, so this cannot fail.
    let mut mac = match <SimpleHmac<D> as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    Mac::update(&mut mac, data);
    mac.finalize().into_bytes().to_vec()
}

/// RFC 5802 §3 key derivation for one exchange.
fn keys<D>(password: &[u8], salt: &[u8], iterations: u32, auth_message: &[u8]) -> Keys
where
    D: Digest + BlockSizeUser + Clone + Sync + FixedOutput + Update,
{
    let mut salted = vec![0u8; <D as Digest>::output_size()];
    pbkdf2::pbkdf2::<SimpleHmac<D>>(password, salt, iterations, &mut salted).unwrap_or_default();
    let client_key = hmac::<D>(&salted, b"Client Key");
    let stored_key = D::digest(&client_key);
    let client_signature = hmac::<D>(&stored_key, auth_message);
    let client_proof = client_key
        .iter()
        .zip(&client_signature)
        .map(|(k, s)| k ^ s)
        .collect();
    let server_key = hmac::<D>(&salted, b"Server Key");
    Keys {
        client_proof,
        server_signature: hmac::<D>(&server_key, auth_message),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn s(v: Option<Vec<u8>>) -> String {
        String::from_utf8(v.unwrap()).unwrap()
    }

    /// RFC 5802 §5 (SCRAM-SHA-1), checking the key derivation shared by all hashes.
    #[test]
    fn rfc5802_sha1_vector() {
        let client_first_bare = "n=user,r=fyko+d2lbbFgONRv9qkxdawL";
        let server_first = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
        let without_proof = "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j";
        let am = format!("{client_first_bare},{server_first},{without_proof}");
        let salt = B64.decode("QSXCR+Q6sek8bf92").unwrap();
        let k = keys::<sha1::Sha1>(b"pencil", &salt, 4096, am.as_bytes());
        assert_eq!(B64.encode(k.client_proof), "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=");
        assert_eq!(
            B64.encode(k.server_signature),
            "rmF9pqV8S7suAoZWja4dJRkFsKQ="
        );
    }

    /// RFC 7677 §3 (SCRAM-SHA-256), the whole exchange through the session.
    #[test]
    fn rfc7677_sha256_exchange() {
        let m = Scram::new(ScramHash::Sha256, "user", "pencil");
        let mut sess = m.start_with_nonce("rOprNGfwEbeRWgbNEkqO".into()).unwrap();
        assert_eq!(
            s(sess.step(None).unwrap()),
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        assert_eq!(
            s(sess.step(Some(server_first)).unwrap()),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        let server_final = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
        assert_eq!(sess.step(Some(server_final)).unwrap(), None);
        assert!(sess.step(Some(b"")).is_err());
    }

    #[test]
    fn wrong_server_signature_is_rejected() {
        let m = Scram::new(ScramHash::Sha256, "user", "pencil");
        let mut sess = m.start_with_nonce("rOprNGfwEbeRWgbNEkqO".into()).unwrap();
        sess.step(None).unwrap();
        sess.step(Some(b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")).unwrap();
        let e = sess
            .step(Some(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
            .unwrap_err();
        assert!(e.to_string().contains("signature"), "{e}");
    }

    /// A minimal SCRAM server (what Kafka's ScramSaslServer computes from stored credentials),
    /// used to check SCRAM-SHA-512 end to end and escaping.
    fn server_exchange(
        hash: ScramHash,
        user: &str,
        client_pw: &str,
        server_pw: &str,
    ) -> Result<(), Error> {
        let mut m = Scram::new(hash, user, client_pw);
        m.extensions.insert("tokenauth".into(), "true".into());
        let mut sess = m.start()?;
        let first = s(sess.step(None)?);
        let bare = first.strip_prefix("n,,").unwrap();
        let attrs = parse_attributes(bare)?;
        assert_eq!(attrs["n"], escape_saslname(user));
        assert_eq!(attrs["tokenauth"], "true");
        let nonce = format!("{}srvNONCE", attrs["r"]);
        let salt = b"kafka-salt-bytes";
        let server_first = format!("r={nonce},s={},i=8192", B64.encode(salt));
        let client_final = s(sess.step(Some(server_first.as_bytes()))?);
        let (without_proof, proof) = client_final.rsplit_once(",p=").unwrap();
        assert_eq!(without_proof, format!("c=biws,r={nonce}"));
        let am = format!("{bare},{server_first},{without_proof}");
        let (server_keys, ok) = match hash {
            ScramHash::Sha256 => {
                let k = keys::<sha2::Sha256>(server_pw.as_bytes(), salt, 8192, am.as_bytes());
                (
                    k.server_signature.clone(),
                    B64.encode(&k.client_proof) == proof,
                )
            }
            ScramHash::Sha512 => {
                let k = keys::<sha2::Sha512>(server_pw.as_bytes(), salt, 8192, am.as_bytes());
                (
                    k.server_signature.clone(),
                    B64.encode(&k.client_proof) == proof,
                )
            }
        };
        if !ok {
            // Kafka answers with a failed SaslAuthenticate; a plain SCRAM server with e=.
            return sess.step(Some(b"e=invalid-proof")).map(|_| ());
        }
        assert_eq!(
            sess.step(Some(format!("v={}", B64.encode(server_keys)).as_bytes()))?,
            None
        );
        Ok(())
    }

    #[test]
    fn sha512_and_sha256_against_a_server() {
        for h in [ScramHash::Sha256, ScramHash::Sha512] {
            server_exchange(h, "alice", "alice-secret", "alice-secret").unwrap();
            server_exchange(h, "we=ird,name", "pw", "pw").unwrap();
            let e = server_exchange(h, "alice", "wrong", "alice-secret").unwrap_err();
            assert!(e.to_string().contains("invalid-proof"), "{e}");
        }
    }

    #[test]
    fn saslname_escaping() {
        assert_eq!(escape_saslname("a=b,c"), "a=3Db=2Cc");
        let mut m = Scram::new(ScramHash::Sha512, "u=,", "p");
        m.authzid = Some("x,y".into());
        let mut sess = m.start_with_nonce("abc".into()).unwrap();
        assert_eq!(s(sess.step(None).unwrap()), "n,a=x=2Cy,n=u=3D=2C,r=abc");
    }

    fn after_first(server_first: &str) -> Result<Option<Vec<u8>>, Error> {
        let m = Scram::new(ScramHash::Sha256, "user", "pencil");
        let mut sess = m.start_with_nonce("cnonce".into())?;
        sess.step(None)?;
        sess.step(Some(server_first.as_bytes()))
    }

    #[test]
    fn bad_server_first_messages() {
        let low = after_first("r=cnonceS,s=c2FsdA==,i=4095").unwrap_err();
        assert!(low.to_string().contains("4095"), "{low}");
        assert!(after_first("r=cnonceS,s=c2FsdA==,i=4096").is_ok());
        assert!(after_first("r=cnonceS,s=c2FsdA==,i=99999999").is_err());
        assert!(after_first("r=othernonce,s=c2FsdA==,i=4096").is_err());
        assert!(after_first("r=cnonce,s=c2FsdA==,i=4096").is_err());
        assert!(after_first("r=cnonceS,s=!!,i=4096").is_err());
        assert!(after_first("r=cnonceS,i=4096").is_err());
        assert!(after_first("m=ext,r=cnonceS,s=c2FsdA==,i=4096").is_err());
        let e = after_first("e=unknown-user").unwrap_err();
        assert!(e.to_string().contains("unknown-user"), "{e}");
        assert!(after_first("garbage").is_err());
    }

    #[test]
    fn nonces_are_random_and_printable() {
        let m = Scram::new(ScramHash::Sha256, "u", "p");
        let a = s(m.start().unwrap().step(None).unwrap());
        let b = s(m.start().unwrap().step(None).unwrap());
        assert_ne!(a, b);
        let r = a.rsplit_once("r=").unwrap().1;
        assert!(r.len() >= 24 && r.bytes().all(|c| (0x21..=0x7e).contains(&c) && c != b','));
    }

    #[test]
    fn debug_redacts_password() {
        assert!(
            !format!("{:?}", Scram::new(ScramHash::Sha256, "u", "hunter2")).contains("hunter2")
        );
    }
}
