//! [`Checked`]: the connection settings validated once, in the form the connection is
//! built from: server endpoints with host names valid for TLS, the parsed `tls.ca_file`,
//! each login with its OAuth plan, the EHLO name. `validate` builds it and drops it;
//! `connect` builds it and consumes it; nothing downstream validates again.

use connector_sdk::{Error, Result, Secret};
use tokio_rustls::rustls::pki_types::CertificateDer;

use crate::auth::oauth::{self, Plan};
use crate::settings::{Auth, EmailSettings, OAuth2, Security, Timeouts};
use crate::transport::{Endpoint, Proto, tls};

/// Validated connection settings.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The name given in SMTP EHLO.
    pub(crate) hello: String,
    /// The login both servers use unless they have their own.
    pub(crate) auth: CheckedAuth,
    /// The SMTP server and its own login, if any.
    pub(crate) smtp: Option<(Endpoint, Option<CheckedAuth>)>,
    /// The IMAP server and its own login, if any.
    pub(crate) imap: Option<(Endpoint, Option<CheckedAuth>)>,
    /// The certificates of `tls.ca_file`, parsed.
    pub(crate) ca_certs: Vec<CertificateDer<'static>>,
    /// `tls.accept_invalid_certs`.
    pub(crate) accept_invalid_certs: bool,
    /// `timeouts`.
    pub(crate) timeouts: Timeouts,
}

/// A login, validated.
#[derive(Debug, Clone)]
pub(crate) enum CheckedAuth {
    None,
    Password {
        username: String,
        password: Secret,
    },
    Token {
        settings: Box<OAuth2>,
        /// `None` for `grant: access_token`.
        plan: Option<Plan>,
        /// The JSON path of the auth block (`/auth`, `/imap/auth`), for errors.
        at: String,
    },
}

impl Checked {
    /// Checks every rule the settings must follow, without network I/O.
    ///
    /// # Errors
    /// A config error with the JSON path of the first bad setting.
    pub(crate) fn new(settings: &EmailSettings) -> Result<Self> {
        if settings.smtp.is_none() && settings.imap.is_none() {
            return Err(Error::config("", "configure `smtp`, `imap` or both"));
        }
        let auth = CheckedAuth::new(&settings.auth, settings.allow_insecure_auth, "/auth")?;
        let mut servers = Vec::new();
        for (proto, name, server) in [
            (Proto::Smtp, "smtp", &settings.smtp),
            (Proto::Imap, "imap", &settings.imap),
        ] {
            let Some(server) = server else {
                servers.push(None);
                continue;
            };
            let at = format!("/{name}");
            let endpoint = Endpoint::new(proto, server, &at)?;
            let own = server
                .auth
                .as_ref()
                .map(|a| CheckedAuth::new(a, settings.allow_insecure_auth, &format!("{at}/auth")))
                .transpose()?;
            let login = own.as_ref().unwrap_or(&auth);
            if !settings.allow_insecure_auth
                && !matches!(login, CheckedAuth::None)
                && server.security == Security::None
            {
                return Err(Error::config(
                    format!("{at}/security"),
                    "refusing to send a password or token over an unencrypted connection: use `tls` or `starttls`, or set `allow_insecure_auth: true`",
                ));
            }
            servers.push(Some((endpoint, own)));
        }
        let hello = settings
            .hello_name
            .clone()
            .unwrap_or_else(|| "localhost".into());
        if hello.is_empty() || hello.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(Error::config(
                "/hello_name",
                "expected a host name without spaces",
            ));
        }
        let imap = servers.pop().flatten();
        let smtp = servers.pop().flatten();
        Ok(Self {
            hello,
            auth,
            smtp,
            imap,
            ca_certs: tls::extra_roots(&settings.tls)?,
            accept_invalid_certs: settings.tls.accept_invalid_certs,
            timeouts: settings.timeouts.clone(),
        })
    }
}

impl CheckedAuth {
    fn new(auth: &Auth, allow_insecure: bool, at: &str) -> Result<Self> {
        Ok(match auth {
            Auth::None => Self::None,
            Auth::Basic { username, password } => Self::Password {
                username: username.clone(),
                password: password.clone(),
            },
            Auth::Oauth2(o) => Self::Token {
                plan: oauth::plan(o, allow_insecure, at)?,
                settings: o.clone(),
                at: at.to_owned(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(settings: serde_json::Value) -> Result<Checked> {
        Checked::new(&connector_sdk::from_value(&settings).expect("well-formed"))
    }

    #[test]
    fn a_host_that_is_no_name_fails_at_its_own_path_before_connecting() {
        let err = check(serde_json::json!({
            "smtp": {"host": "smtp.example.com", "port": 587, "security": "starttls"},
            "imap": {"host": "bad host\u{0}name", "port": 993},
            "auth": {"type": "basic", "username": "u", "password": "p"}
        }))
        .unwrap_err();
        assert_eq!(err.path(), Some("/imap/host"));
        assert!(
            err.message()
                .starts_with("expected a host name or IP address"),
            "{err}"
        );
    }

    #[test]
    fn each_server_keeps_its_own_login_and_the_shared_one_is_planned_once() {
        let checked = check(serde_json::json!({
            "smtp": {"host": "127.0.0.1", "port": 25, "security": "none", "auth": {"type": "none"}},
            "imap": {"host": "::1", "port": 993},
            "auth": {"type": "oauth2", "username": "u", "grant": "client_credentials",
                     "tenant_id": "contoso.onmicrosoft.com", "client_id": "c", "client_secret": "s"}
        }))
        .expect("valid");
        assert!(matches!(checked.smtp, Some((_, Some(CheckedAuth::None)))));
        assert!(
            matches!(checked.imap, Some((_, None))),
            "IMAP uses the shared login"
        );
        assert!(
            matches!(&checked.auth, CheckedAuth::Token { plan: Some(_), at, .. } if at == "/auth")
        );
    }

    #[test]
    fn a_ca_file_that_never_ends_is_refused_not_read_forever() {
        let err = check(serde_json::json!({
            "imap": {"host": "imap.example.com", "port": 993},
            "auth": {"type": "basic", "username": "u", "password": "p"},
            "tls": {"ca_file": "/dev/zero"}
        }))
        .unwrap_err();
        assert_eq!(err.path(), Some("/tls/ca_file"));
        assert!(err.message().contains("larger than"), "{err}");
    }

    #[test]
    fn a_password_over_plaintext_is_refused_at_the_servers_security() {
        let err = check(serde_json::json!({
            "imap": {"host": "imap.example.com", "port": 143, "security": "none"},
            "auth": {"type": "basic", "username": "u", "password": "p"}
        }))
        .unwrap_err();
        assert_eq!(err.path(), Some("/imap/security"));
    }
}
