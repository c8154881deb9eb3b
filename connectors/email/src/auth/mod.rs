//! Authentication: who logs in to a server and with what (a password, OAuth 2.0 access
//! tokens, or nobody), the SASL messages that carry a token, and the token source.
//!
//! Above the transport (the token requests share its TLS configuration), below the
//! SMTP and IMAP sessions that log in.

pub(crate) mod oauth;
pub(crate) mod sasl;

use std::sync::Arc;

use connector_sdk::Secret;

use crate::settings::OauthMechanism;
use oauth::Tokens;

/// A server's login, built from the checked settings.
#[derive(Debug, Clone)]
pub(crate) enum Login {
    /// No login (an SMTP relay).
    None,
    /// SMTP AUTH PLAIN/LOGIN, IMAP LOGIN.
    Password { username: String, password: Secret },
    /// XOAUTH2 or OAUTHBEARER with tokens from `tokens` (shared by the SMTP and IMAP
    /// logins when they use the same settings, so one token serves both).
    Token {
        username: String,
        mechanism: OauthMechanism,
        tokens: Arc<Tokens>,
    },
}

impl Login {
    /// The login name, if any.
    pub(crate) fn username(&self) -> Option<&str> {
        match self {
            Self::None => None,
            Self::Password { username, .. } | Self::Token { username, .. } => Some(username),
        }
    }

    /// The token source, if this login uses tokens.
    pub(crate) fn tokens(&self) -> Option<&Arc<Tokens>> {
        match self {
            Self::Token { tokens, .. } => Some(tokens),
            _ => None,
        }
    }
}

/// Runs a token login (`$body`, with the token text bound to `$token`); when the
/// server refuses a token that was cached (it may have gone stale: revoked, or expired
/// early), runs `$body` once more with a new one (see [`Tokens::refused`]). A macro rather than a
/// function over an async closure, so the futures stay `Send`.
macro_rules! with_token {
    ($tokens:expr, |$token:ident| $body:expr) => {{
        let tokens: &crate::auth::oauth::Tokens = $tokens;
        let first = tokens.token().await?;
        let result = {
            let $token = first.expose();
            $body
        };
        match result {
            Ok(session) => {
                tokens.accepted(&first).await;
                Ok(session)
            }
            Err(e) if e.kind() == connector_sdk::ErrorKind::Auth => {
                if tokens.refused(&first).await {
                    let second = tokens.token().await?;
                    let $token = second.expose();
                    let result = $body;
                    match &result {
                        Ok(_) => tokens.accepted(&second).await,
                        Err(e) if e.kind() == connector_sdk::ErrorKind::Auth => {
                            tokens.refused(&second).await;
                        }
                        Err(_) => {}
                    }
                    result
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }};
}
pub(crate) use with_token;
