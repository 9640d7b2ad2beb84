//! Length-prefixed framing (placeholder, filled in below).
