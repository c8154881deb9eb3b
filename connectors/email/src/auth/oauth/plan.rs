//! The plan of a grant: its settings checked once (which fields it needs, the token
//! URL with its https rule, default scopes by provider), before any request.

use std::path::Path;

use connector_sdk::{Error, Result};
use oauth2::url::Url;

use crate::settings::{Grant, OAuth2};

/// Microsoft's token endpoints, by tenant.
const MICROSOFT: &str = "https://login.microsoftonline.com";

/// Whose token endpoint this is, for default scopes and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provider {
    Microsoft,
    Google,
    Other,
}

/// A grant's settings, checked: where to ask and for what.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) url: Url,
    pub(crate) provider: Provider,
    pub(crate) scopes: Vec<String>,
}

impl Plan {
    /// The token endpoint's host, for messages.
    pub(crate) fn host(&self) -> &str {
        self.url.host_str().unwrap_or("?")
    }
}

/// Checks an `oauth2` auth block (at JSON path `at`) and works out the token URL and
/// scopes. `None` for `grant: access_token`, which asks no one.
pub(crate) fn plan(o: &OAuth2, allow_insecure: bool, at: &str) -> Result<Option<Plan>> {
    let grant_fields = [
        ("tenant_id", o.tenant_id.is_some()),
        ("token_url", o.token_url.is_some()),
        ("client_id", o.client_id.is_some()),
        ("client_secret", o.client_secret.is_some()),
        ("password", o.password.is_some()),
        ("refresh_token", o.refresh_token.is_some()),
        ("scopes", o.scopes.is_some()),
        ("token_cache_file", o.token_cache_file.is_some()),
    ];
    if o.grant == Grant::AccessToken {
        if let Some((name, _)) = grant_fields.iter().find(|(_, set)| *set) {
            return Err(Error::config(
                format!("{at}/grant"),
                format!(
                    "`{name}` is set but `grant` is `access_token` (the default), which uses a given token: set `grant` to client_credentials, password or refresh_token"
                ),
            ));
        }
        if o.access_token.is_none() {
            return Err(Error::config(
                format!("{at}/access_token"),
                "expected an access token (a string, {\"env\": NAME} or {\"file\": PATH}), or a `grant` that obtains one: client_credentials, password or refresh_token",
            ));
        }
        return Ok(None);
    }
    if o.access_token.is_some() {
        return Err(Error::config(
            format!("{at}/access_token"),
            format!(
                "`access_token` is only used with `grant: access_token`; grant `{}` obtains its own",
                o.grant.name()
            ),
        ));
    }
    let url = match (&o.tenant_id, &o.token_url) {
        (Some(_), Some(_)) => {
            return Err(Error::config(
                format!("{at}/token_url"),
                "set either `tenant_id` (Microsoft 365) or `token_url`, not both",
            ));
        }
        (None, None) => {
            return Err(Error::config(
                format!("{at}/tenant_id"),
                "expected `tenant_id` (Microsoft 365) or `token_url` (any other provider) to know where to request tokens",
            ));
        }
        (Some(tenant), None) => {
            let valid = !tenant.is_empty()
                && tenant
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !valid {
                return Err(Error::config(
                    format!("{at}/tenant_id"),
                    "expected a tenant id (a GUID) or domain such as contoso.onmicrosoft.com",
                ));
            }
            if o.grant == Grant::ClientCredentials
                && ["common", "organizations", "consumers"].contains(&tenant.as_str())
            {
                return Err(Error::config(
                    format!("{at}/tenant_id"),
                    format!(
                        "client_credentials needs your own tenant's id or domain, not `{tenant}`"
                    ),
                ));
            }
            Url::parse(&format!("{MICROSOFT}/{tenant}/oauth2/v2.0/token"))
                .map_err(|e| Error::config(format!("{at}/tenant_id"), e.to_string()))?
        }
        (None, Some(raw)) => {
            let url = Url::parse(raw.as_str()).map_err(|e| {
                Error::config(
                    format!("{at}/token_url"),
                    format!("expected an https URL: {e}"),
                )
            })?;
            let loopback = match url.host() {
                Some(oauth2::url::Host::Domain(d)) => d == "localhost",
                Some(oauth2::url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(oauth2::url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            match url.scheme() {
                "https" => {}
                "http" if loopback || allow_insecure => {}
                "http" => {
                    return Err(Error::config(
                        format!("{at}/token_url"),
                        "expected an https URL: over http the client secret and tokens could be read on the way (http is accepted on loopback, or with `allow_insecure_auth`)",
                    ));
                }
                other => {
                    return Err(Error::config(
                        format!("{at}/token_url"),
                        format!("expected an https URL, not {other}:"),
                    ));
                }
            }
            if url.host_str().is_none_or(str::is_empty) {
                return Err(Error::config(
                    format!("{at}/token_url"),
                    "expected an https URL with a host",
                ));
            }
            url
        }
    };
    let provider = match url.host_str().unwrap_or_default() {
        h if h.starts_with("login.microsoftonline.") || h == "login.partner.microsoftonline.cn" => {
            Provider::Microsoft
        }
        "oauth2.googleapis.com" | "accounts.google.com" | "www.googleapis.com" => Provider::Google,
        _ => Provider::Other,
    };
    if o.client_id.as_deref().is_none_or(str::is_empty) {
        return Err(Error::config(
            format!("{at}/client_id"),
            "expected the application (client) id registered with the provider",
        ));
    }
    match o.grant {
        Grant::ClientCredentials if o.client_secret.is_none() => {
            return Err(Error::config(
                format!("{at}/client_secret"),
                "grant client_credentials needs the client secret (a string, {\"env\": NAME} or {\"file\": PATH})",
            ));
        }
        Grant::Password if o.password.is_none() => {
            return Err(Error::config(
                format!("{at}/password"),
                "grant password needs the mailbox password (a string, {\"env\": NAME} or {\"file\": PATH})",
            ));
        }
        Grant::RefreshToken if o.refresh_token.is_none() && o.token_cache_file.is_none() => {
            return Err(Error::config(
                format!("{at}/refresh_token"),
                "grant refresh_token needs a refresh token (a string, {\"env\": NAME} or {\"file\": PATH}), or a `token_cache_file` that holds one",
            ));
        }
        _ => {}
    }
    let scopes = match &o.scopes {
        Some(given) => {
            if let Some(i) = given
                .iter()
                .position(|s| s.is_empty() || s.contains(char::is_whitespace))
            {
                return Err(Error::config(
                    format!("{at}/scopes/{i}"),
                    "expected one scope, without spaces",
                ));
            }
            given.clone()
        }
        None => default_scopes(provider, o.grant),
    };
    if let Some(file) = &o.token_cache_file {
        let dir = file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(Error::config(
                format!("{at}/token_cache_file"),
                format!(
                    "the directory {} does not exist; create it, the connector only writes the file",
                    dir.display()
                ),
            ));
        }
    }
    Ok(Some(Plan {
        url,
        provider,
        scopes,
    }))
}

fn default_scopes(provider: Provider, grant: Grant) -> Vec<String> {
    let scopes: &[&str] = match (provider, grant) {
        (Provider::Microsoft, Grant::ClientCredentials) => {
            &["https://outlook.office365.com/.default"]
        }
        (Provider::Microsoft, _) => &[
            "https://outlook.office365.com/IMAP.AccessAsUser.All",
            "https://outlook.office365.com/SMTP.Send",
            "offline_access",
        ],
        (Provider::Google, _) => &["https://mail.google.com/"],
        (Provider::Other, _) => &[],
    };
    scopes.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(v: serde_json::Value) -> OAuth2 {
        let mut base = serde_json::json!({"username": "me@contoso.com"});
        base.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        connector_sdk::from_value(&base).unwrap()
    }

    fn error(v: serde_json::Value) -> String {
        let e = plan(&settings(v), false, "/auth").unwrap_err();
        format!("{}: {}", e.path().unwrap_or_default(), e.message())
    }

    #[test]
    fn microsoft_tenants_set_the_token_url_and_default_scopes() {
        let p = plan(
            &settings(serde_json::json!({"grant": "client_credentials", "tenant_id": "contoso.onmicrosoft.com", "client_id": "app", "client_secret": "s"})),
            false,
            "/auth",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            p.url.as_str(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(p.scopes, ["https://outlook.office365.com/.default"]);
        let p = plan(
            &settings(serde_json::json!({"grant": "refresh_token", "tenant_id": "common", "client_id": "app", "refresh_token": "r"})),
            false,
            "/auth",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            p.scopes,
            [
                "https://outlook.office365.com/IMAP.AccessAsUser.All",
                "https://outlook.office365.com/SMTP.Send",
                "offline_access"
            ]
        );
        let p = plan(
            &settings(serde_json::json!({"grant": "refresh_token", "token_url": "https://oauth2.googleapis.com/token", "client_id": "app", "client_secret": "s", "refresh_token": "r"})),
            false,
            "/auth",
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.scopes, ["https://mail.google.com/"]);
    }

    #[test]
    fn incomplete_grants_name_the_missing_setting() {
        assert_eq!(
            error(serde_json::json!({})),
            "/auth/access_token: expected an access token (a string, {\"env\": NAME} or {\"file\": PATH}), or a `grant` that obtains one: client_credentials, password or refresh_token"
        );
        assert!(
            error(serde_json::json!({"client_id": "x", "access_token": "t"}))
                .starts_with("/auth/grant: `client_id` is set but `grant` is `access_token`")
        );
        assert!(
            error(serde_json::json!({"grant": "client_credentials", "client_id": "x", "client_secret": "s"}))
                .starts_with("/auth/tenant_id: expected `tenant_id`")
        );
        assert!(
            error(serde_json::json!({"grant": "client_credentials", "tenant_id": "common", "client_id": "x", "client_secret": "s"}))
                .starts_with("/auth/tenant_id: client_credentials needs your own tenant")
        );
        assert!(
            error(serde_json::json!({"grant": "client_credentials", "tenant_id": "t/../x", "client_id": "x", "client_secret": "s"}))
                .starts_with("/auth/tenant_id: expected a tenant id")
        );
        assert!(
            error(serde_json::json!({"grant": "client_credentials", "tenant_id": "t", "client_id": "x"}))
                .starts_with("/auth/client_secret: grant client_credentials needs")
        );
        assert!(
            error(serde_json::json!({"grant": "password", "tenant_id": "t", "client_id": "x"}))
                .starts_with("/auth/password: grant password needs")
        );
        assert!(
            error(
                serde_json::json!({"grant": "refresh_token", "tenant_id": "t", "client_id": "x"})
            )
            .starts_with("/auth/refresh_token: grant refresh_token needs")
        );
        assert!(
            error(serde_json::json!({"grant": "password", "tenant_id": "t", "password": "p"}))
                .starts_with("/auth/client_id: expected the application")
        );
        assert!(
            error(serde_json::json!({"grant": "password", "tenant_id": "t", "client_id": "x", "password": "p", "scopes": ["a b"]}))
                .starts_with("/auth/scopes/0: expected one scope")
        );
        assert!(
            error(serde_json::json!({"grant": "password", "tenant_id": "t", "client_id": "x", "password": "p", "access_token": "t"}))
                .starts_with("/auth/access_token: `access_token` is only used with")
        );
    }

    #[test]
    fn token_urls_must_be_https_except_on_loopback() {
        let base = serde_json::json!({"grant": "client_credentials", "client_id": "x", "client_secret": "s"});
        let with = |url: &str| {
            let mut v = base.clone();
            v["token_url"] = url.into();
            v
        };
        assert!(
            error(with("http://idp.example.com/token"))
                .starts_with("/auth/token_url: expected an https URL: over http")
        );
        assert!(
            error(with("ftp://idp.example.com/token"))
                .starts_with("/auth/token_url: expected an https URL, not ftp")
        );
        assert!(error(with("not a url")).starts_with("/auth/token_url: expected an https URL"));
        for ok in [
            "http://127.0.0.1:8080/token",
            "http://localhost/t",
            "http://[::1]:9/t",
            "https://idp.example.com/t",
        ] {
            assert!(plan(&settings(with(ok)), false, "/auth").is_ok(), "{ok}");
        }
        assert!(
            plan(
                &settings(with("http://idp.example.com/token")),
                true,
                "/auth"
            )
            .is_ok()
        );
    }
}
