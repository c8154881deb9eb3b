//! The mail protocols over the transport: SMTP sessions ([`smtp`], lettre) for Send
//! Email and IMAP sessions ([`imap`], async-imap) for Read Email, each opened by a
//! dialer that reports its steps to a check.

pub(crate) mod fetch;
pub(crate) mod imap;
pub(crate) mod mutf7;
pub(crate) mod smtp;
