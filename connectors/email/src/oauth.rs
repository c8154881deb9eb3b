//! OAuth 2.0 access tokens for XOAUTH2 and OAUTHBEARER: requested with the `oauth2`
//! crate over a small HTTP/1.1 client that shares the mail connections' rustls
//! configuration and timeouts, kept for the process, refreshed before they expire, and
//! optionally kept in a token cache file between runs (where a rotated refresh token
//! goes).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use connector_sdk::{Error, Result, Secret};
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicErrorResponseType};
use oauth2::url::Url;
use oauth2::{
    AuthType, ClientId, ClientSecret, HttpRequest, HttpResponse, RefreshToken, RequestTokenError,
    ResourceOwnerPassword, ResourceOwnerUsername, Scope, TokenResponse, TokenUrl,
};
use sha2::Digest as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::{Net, Proto};
use crate::settings::{ClientAuth, Grant, OAuth2};

const TARGET: &str = "email_connector::oauth2";
/// Microsoft's token endpoints, by tenant.
const MICROSOFT: &str = "https://login.microsoftonline.com";
/// The lifetime assumed when a token response has no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// The most a token response may hold.
const MAX_RESPONSE: usize = 1 << 20;

/// Whose token endpoint this is, for default scopes and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Microsoft,
    Google,
    Other,
}

/// A grant's settings, checked: where to ask and for what.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    url: Url,
    provider: Provider,
    scopes: Vec<String>,
}

impl Plan {
    /// The token endpoint's host, for messages.
    fn host(&self) -> &str {
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
            let url = Url::parse(raw).map_err(|e| {
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

/// Where a login's access tokens come from.
pub(crate) struct Tokens {
    source: Source,
}

enum Source {
    Given(Secret),
    Granted(Box<Granted>),
}

struct Granted {
    settings: OAuth2,
    plan: Plan,
    net: Net,
    /// The JSON path of these settings, for errors.
    at: String,
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    current: Option<Current>,
    /// The newest refresh token: the configured one, or one the provider rotated in.
    refresh: Option<Secret>,
    cache_read: bool,
    generation: u64,
    /// The generation of the last token a server refused.
    refused: Option<u64>,
}

struct Current {
    token: Secret,
    expires_at: SystemTime,
    lifetime: Duration,
    /// A server accepted it (or it comes from the cache file, from an earlier run).
    proven: bool,
}

impl Current {
    /// Whether the token is still good for a while: it is replaced when a fifth of its
    /// lifetime (at most five minutes) is left, so a login never races its expiry.
    fn fresh(&self, now: SystemTime) -> bool {
        let margin = (self.lifetime / 5).min(Duration::from_secs(300));
        now + margin < self.expires_at
    }
}

/// An access token handed to a login.
pub(crate) struct Token {
    value: Secret,
    generation: u64,
    /// Whether a server accepted it before (so a refusal may mean it went stale).
    proven: bool,
    /// Whether it was kept from before this call (not requested by it).
    from_cache: bool,
}

impl Token {
    /// The token's text, for the SASL response.
    pub(crate) fn expose(&self) -> &str {
        self.value.expose()
    }
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Source::Given(_) => f.write_str("Tokens(given)"),
            Source::Granted(g) => f
                .debug_struct("Tokens")
                .field("grant", &g.settings.grant)
                .field("token_url", &g.plan.url.as_str())
                .finish_non_exhaustive(),
        }
    }
}

impl Tokens {
    /// The token source for checked settings.
    pub(crate) fn new(settings: &OAuth2, plan: Option<Plan>, net: &Net, at: &str) -> Result<Self> {
        let source = match plan {
            None => Source::Given(settings.access_token.clone().ok_or_else(|| {
                Error::config(format!("{at}/access_token"), "expected an access token")
            })?),
            Some(plan) => Source::Granted(Box::new(Granted {
                settings: settings.clone(),
                plan,
                net: net.clone(),
                at: at.to_owned(),
                state: tokio::sync::Mutex::new(State {
                    refresh: settings.refresh_token.clone(),
                    ..State::default()
                }),
            })),
        };
        Ok(Self { source })
    }

    /// A token that is good for a while: the cached one, or a new one.
    pub(crate) async fn token(&self) -> Result<Token> {
        match &self.source {
            Source::Given(secret) => Ok(Token {
                value: secret.clone(),
                generation: 0,
                proven: false,
                from_cache: false,
            }),
            Source::Granted(g) => g.token().await,
        }
    }

    /// Takes note that a server accepted `token`.
    pub(crate) async fn accepted(&self, token: &Token) {
        if let Source::Granted(g) = &self.source {
            let mut state = g.state.lock().await;
            if state.generation == token.generation
                && let Some(current) = state.current.as_mut()
            {
                current.proven = true;
            }
        }
    }

    /// Takes note that a server refused `token`, and says whether a new token may
    /// help: only for a token that a server accepted before (it may have gone stale:
    /// revoked, or expired early) and that no server refused since. Then the cached token is
    /// dropped, so the next [`token`](Self::token) asks for a new one. A token refused
    /// right after it was issued says the problem is elsewhere (permissions, the
    /// mailbox), and asking again would only repeat it.
    pub(crate) async fn refused(&self, token: &Token) -> bool {
        let Source::Granted(g) = &self.source else {
            return false;
        };
        let mut state = g.state.lock().await;
        let again = token.proven && state.refused != Some(token.generation);
        state.refused = Some(token.generation);
        if again && state.generation == token.generation {
            tracing::info!(target: TARGET, "the server refused the cached access token; requesting a new one");
            state.current = None;
        }
        again
    }

    /// For `check`: where the token came from and how long it lasts. Never the token.
    pub(crate) async fn describe(&self) -> Result<String> {
        match &self.source {
            Source::Given(_) => {
                self.token().await?;
                Ok("access token given in the settings (grant access_token: not refreshed)".into())
            }
            Source::Granted(g) => {
                let token = g.token().await?;
                let state = g.state.lock().await;
                let left = state
                    .current
                    .as_ref()
                    .and_then(|c| c.expires_at.duration_since(SystemTime::now()).ok())
                    .map_or(0, |d| d.as_secs());
                let origin = if token.from_cache {
                    "cached"
                } else {
                    "requested"
                };
                let scopes = if g.plan.scopes.is_empty() {
                    "no scopes".to_owned()
                } else {
                    format!("scopes {}", g.plan.scopes.join(" "))
                };
                Ok(format!(
                    "{} grant: token {origin} from {}, valid for {left} s more, {scopes}",
                    g.settings.grant.name(),
                    g.plan.host()
                ))
            }
        }
    }
}

impl Granted {
    async fn token(&self) -> Result<Token> {
        let mut state = self.state.lock().await;
        if !state.cache_read {
            state.cache_read = true;
            if let Some(file) = &self.settings.token_cache_file {
                self.read_cache(file, &mut state);
            }
        }
        let now = SystemTime::now();
        if let Some(current) = state.current.as_ref().filter(|c| c.fresh(now)) {
            return Ok(Token {
                value: current.token.clone(),
                generation: state.generation,
                proven: current.proven,
                from_cache: true,
            });
        }
        let response = self.request(state.refresh.as_ref()).await?;
        let lifetime = response.expires_in().unwrap_or(DEFAULT_LIFETIME);
        let token = Secret::new(response.access_token().secret().clone());
        let mut rotated = false;
        if let Some(new) = response.refresh_token() {
            rotated = state.refresh.as_ref().map(Secret::expose) != Some(new.secret().as_str());
            state.refresh = Some(Secret::new(new.secret().clone()));
        }
        state.generation += 1;
        state.current = Some(Current {
            token: token.clone(),
            expires_at: now + lifetime,
            lifetime,
            proven: false,
        });
        tracing::info!(target: TARGET, grant = self.settings.grant.name(), endpoint = self.plan.host(), expires_in_secs = lifetime.as_secs(), "access token received");
        match &self.settings.token_cache_file {
            Some(file) => self.write_cache(file, &state, rotated)?,
            None if rotated && self.settings.grant == Grant::RefreshToken => {
                tracing::warn!(target: TARGET, "the provider issued a new refresh token; it is kept in memory only and is lost when this run ends: set auth.token_cache_file to keep it");
            }
            None => {}
        }
        Ok(Token {
            value: token,
            generation: state.generation,
            proven: false,
            from_cache: false,
        })
    }

    /// One token request, its failure classified.
    async fn request(&self, refresh: Option<&Secret>) -> Result<oauth2::basic::BasicTokenResponse> {
        let s = &self.settings;
        let mut client = BasicClient::new(ClientId::new(s.client_id.clone().unwrap_or_default()))
            .set_token_uri(TokenUrl::from_url(self.plan.url.clone()))
            .set_auth_type(match s.client_auth {
                ClientAuth::RequestBody => AuthType::RequestBody,
                ClientAuth::Basic => AuthType::BasicAuth,
            });
        if let Some(secret) = &s.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
        }
        let scopes = self.plan.scopes.iter().cloned().map(Scope::new);
        let http = Client(&self.net);
        tracing::debug!(target: TARGET, grant = s.grant.name(), endpoint = %self.plan.url, "requesting an access token");
        let result = match s.grant {
            Grant::ClientCredentials => {
                client
                    .exchange_client_credentials()
                    .add_scopes(scopes)
                    .request_async(&http)
                    .await
            }
            Grant::Password => {
                let user = ResourceOwnerUsername::new(s.username.clone());
                let password = ResourceOwnerPassword::new(
                    s.password
                        .as_ref()
                        .map(|p| p.expose().to_owned())
                        .unwrap_or_default(),
                );
                client
                    .exchange_password(&user, &password)
                    .add_scopes(scopes)
                    .request_async(&http)
                    .await
            }
            Grant::RefreshToken => {
                let Some(refresh) = refresh else {
                    return Err(Error::config(
                        format!("{}/refresh_token", self.at),
                        "grant refresh_token needs a refresh token, and the token cache file holds none",
                    ));
                };
                let refresh = RefreshToken::new(refresh.expose().to_owned());
                client
                    .exchange_refresh_token(&refresh)
                    .add_scopes(scopes)
                    .request_async(&http)
                    .await
            }
            Grant::AccessToken => {
                return Err(Error::internal("grant access_token requests no token"));
            }
        };
        result.map_err(|e| self.classify(e))
    }

    fn classify(&self, e: RequestTokenError<Error, BasicErrorResponse>) -> Error {
        let host = self.plan.host();
        let grant = self.settings.grant.name();
        match e {
            RequestTokenError::Request(e) => e,
            RequestTokenError::ServerResponse(r) => {
                let code = r.error().to_string();
                let why = match r.error_description() {
                    Some(d) => format!("{code}: {}", d.lines().next().unwrap_or_default()),
                    None => code,
                };
                let hint = match (self.plan.provider, r.error()) {
                    (Provider::Microsoft, BasicErrorResponseType::InvalidClient) => {
                        " (check client_secret: the secret's value, not its id, and that it has not expired)"
                    }
                    (Provider::Microsoft, BasicErrorResponseType::InvalidGrant)
                        if why.contains("AADSTS50076") || why.contains("AADSTS50079") =>
                    {
                        " (the account requires MFA, which the password grant cannot do: use client_credentials or refresh_token)"
                    }
                    (Provider::Google, BasicErrorResponseType::InvalidGrant) => {
                        " (the refresh token was revoked or expired: test-mode apps' tokens last 7 days)"
                    }
                    _ => "",
                };
                let message =
                    format!("token endpoint {host} refused the {grant} grant: {why}{hint}");
                match r.error() {
                    BasicErrorResponseType::InvalidClient
                    | BasicErrorResponseType::InvalidGrant
                    | BasicErrorResponseType::UnauthorizedClient => Error::auth(message),
                    BasicErrorResponseType::InvalidScope => {
                        Error::config(format!("{}/scopes", self.at), message)
                    }
                    BasicErrorResponseType::UnsupportedGrantType => {
                        Error::config(format!("{}/grant", self.at), message)
                    }
                    BasicErrorResponseType::InvalidRequest => {
                        Error::config(self.at.clone(), message)
                    }
                    BasicErrorResponseType::Extension(x)
                        if x == "temporarily_unavailable" || x == "server_error" =>
                    {
                        Error::connect(message).retryable(true)
                    }
                    BasicErrorResponseType::Extension(_) => Error::auth(message),
                }
            }
            RequestTokenError::Parse(err, body) => {
                let what = if serde_json::from_slice::<serde_json::Value>(&body).is_ok() {
                    // JSON, but not a token response: say where, never what (it may
                    // hold a token).
                    format!("at `{}`: {}", err.path(), category(err.inner()))
                } else {
                    format!("not JSON: {}", snippet(&body))
                };
                Error::protocol(format!(
                    "token endpoint {host} answered the {grant} grant with something that is not an OAuth 2.0 token response ({what})"
                ))
            }
            RequestTokenError::Other(why) => Error::protocol(format!(
                "token endpoint {host} answered the {grant} grant unexpectedly: {why}"
            )),
        }
    }

    /// The cache key: a token cached for other settings is not used.
    fn cache_key(&self) -> String {
        let s = &self.settings;
        let mut hash = sha2::Sha256::new();
        for part in [
            self.plan.url.as_str(),
            s.client_id.as_deref().unwrap_or_default(),
            &s.username,
            s.grant.name(),
            &self.plan.scopes.join(" "),
            s.refresh_token
                .as_ref()
                .map(Secret::expose)
                .unwrap_or_default(),
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn read_cache(&self, file: &Path, state: &mut State) {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                tracing::warn!(target: TARGET, file = %file.display(), "token cache file not read, requesting a new token: {e}");
                return;
            }
        };
        let Ok(cache) = serde_json::from_str::<serde_json::Value>(&text) else {
            tracing::warn!(target: TARGET, file = %file.display(), "token cache file is not JSON; ignored");
            return;
        };
        if cache["key"].as_str() != Some(self.cache_key().as_str()) {
            tracing::info!(target: TARGET, file = %file.display(), "token cache file is for other settings (provider, client, user, scopes or refresh token changed); ignored");
            return;
        }
        if let Some(refresh) = cache["refresh_token"].as_str() {
            state.refresh = Some(Secret::new(refresh));
        }
        if let (Some(token), Some(expires_at), Some(lifetime)) = (
            cache["access_token"].as_str(),
            cache["expires_at"].as_u64(),
            cache["lifetime_secs"].as_u64(),
        ) {
            state.generation += 1;
            state.current = Some(Current {
                token: Secret::new(token),
                expires_at: UNIX_EPOCH + Duration::from_secs(expires_at),
                lifetime: Duration::from_secs(lifetime),
                // Issued to an earlier run: a refusal may mean it went stale.
                proven: true,
            });
        }
        tracing::debug!(target: TARGET, file = %file.display(), "token cache file read");
    }

    /// Writes the cache atomically: a private temporary file, synced, renamed over.
    fn write_cache(&self, file: &Path, state: &State, rotated: bool) -> Result<()> {
        let current = state.current.as_ref();
        let cache = serde_json::json!({
            "version": 1,
            "key": self.cache_key(),
            "refresh_token": state.refresh.as_ref().map(Secret::expose),
            "access_token": current.map(|c| c.token.expose()),
            "expires_at": current.and_then(|c| c.expires_at.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs()),
            "lifetime_secs": current.map(|c| c.lifetime.as_secs()),
        });
        let failed = |e: std::io::Error| {
            Error::config(
                format!("{}/token_cache_file", self.at),
                format!("cannot write {}: {e}", file.display()),
            )
        };
        let name = file.file_name().map_or_else(
            || "token-cache".into(),
            |n| n.to_string_lossy().into_owned(),
        );
        let tmp = file.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                options.mode(0o600);
            }
            let mut f = options.open(&tmp)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            }
            f.write_all(cache.to_string().as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, file)
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(failed(e));
        }
        if rotated {
            tracing::info!(target: TARGET, file = %file.display(), "the provider issued a new refresh token; saved to the token cache file");
        } else {
            tracing::debug!(target: TARGET, file = %file.display(), "token cache file written");
        }
        Ok(())
    }
}

fn category(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "malformed",
        serde_json::error::Category::Data => "a missing field or a value of the wrong type",
        serde_json::error::Category::Eof => "cut off",
    }
}

/// The start of a body that is not JSON, printable and short (an HTML error page from
/// a proxy says what went wrong in its first words).
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(80)
        .collect();
    if flat.trim().is_empty() {
        format!("{} bytes", body.len())
    } else {
        format!("{:?}", flat.trim())
    }
}

/// The `oauth2` crate's HTTP client: [`http`] over the connector's [`Net`]. A type of
/// its own (not a closure) so the request future is `Send`.
struct Client<'n>(&'n Net);

impl<'c> oauth2::AsyncHttpClient<'c> for Client<'_> {
    type Error = Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<HttpResponse>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(http(self.0, request))
    }
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`), for the token
/// endpoint: TLS with the connector's trust settings, its timeouts, and no trace of
/// the bytes (they hold the client secret and the token).
async fn http(net: &Net, request: HttpRequest) -> Result<HttpResponse> {
    let uri = request.uri().clone();
    let https = uri.scheme_str() == Some("https");
    let host = uri
        .host()
        .ok_or_else(|| Error::config("/auth/token_url", "the token URL has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let what = format!("token endpoint {host}:{port}");
    let stream = net.tcp(Proto::Http, &host, port).await?;
    let mut stream = if https {
        net.tls(stream, &host).await?
    } else {
        stream
    };
    let authority = uri.authority().map_or(host.as_str(), |a| a.as_str());
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!(
        "{} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nUser-Agent: email-connector/{}\r\nContent-Length: {}\r\n",
        request.method(),
        env!("CARGO_PKG_VERSION"),
        request.body().len()
    );
    for (name, value) in request.headers() {
        let value = value
            .to_str()
            .map_err(|_| Error::internal("a token request header is not text"))?;
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let io = |e: std::io::Error| crate::smtp::io_error(&what, &e);
    stream.write_all(head.as_bytes()).await.map_err(io)?;
    stream.write_all(request.body()).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    let mut raw = Vec::new();
    (&mut stream)
        .take(MAX_RESPONSE as u64 + 1)
        .read_to_end(&mut raw)
        .await
        .map_err(io)?;
    if raw.len() > MAX_RESPONSE {
        return Err(Error::protocol(format!(
            "{what}: the answer is larger than {MAX_RESPONSE} bytes"
        )));
    }
    let response = parse_response(&raw).map_err(|why| {
        Error::protocol(format!(
            "{what}: the answer is not HTTP ({why}): {}",
            snippet(&raw)
        ))
    })?;
    let status = response.status();
    let json = serde_json::from_slice::<serde_json::Value>(response.body()).is_ok();
    tracing::debug!(target: TARGET, status = status.as_u16(), bytes = response.body().len(), "{what}: answered");
    if !status.is_success() && !json {
        // An OAuth error is JSON; anything else is the server (or a proxy) failing.
        let message = format!("{what}: HTTP {status}: {}", snippet(response.body()));
        return Err(match status.as_u16() {
            429 | 500..=599 => Error::connect(message).retryable(true),
            401 | 403 => Error::auth(message),
            404 | 405 => Error::config(
                "/auth/token_url",
                format!("{message}: is this the token endpoint?"),
            ),
            _ => Error::protocol(message),
        });
    }
    Ok(response)
}

/// Parses an HTTP/1.1 response: status, headers, and a body by `Content-Length`,
/// chunked encoding or the end of the connection.
fn parse_response(raw: &[u8]) -> std::result::Result<HttpResponse, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    let header_len = match parsed.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("incomplete header".into()),
        Err(e) => return Err(e.to_string()),
    };
    let mut builder = http_response_builder(parsed.code.unwrap_or(0))?;
    let mut chunked = false;
    let mut length = None;
    for h in parsed.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = String::from_utf8_lossy(h.value)
                .to_ascii_lowercase()
                .contains("chunked");
        } else if h.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok());
        }
        builder = builder.header(h.name, h.value);
    }
    let rest = &raw[header_len..];
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        rest.get(..n)
            .ok_or("the body is shorter than its Content-Length")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    builder.body(body).map_err(|e| e.to_string())
}

fn http_response_builder(
    code: u16,
) -> std::result::Result<oauth2::http::response::Builder, String> {
    let status = oauth2::http::StatusCode::from_u16(code).map_err(|e| e.to_string())?;
    Ok(oauth2::http::Response::builder().status(status))
}

/// Decodes `Transfer-Encoding: chunked`.
fn dechunk(mut rest: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line is cut off")?;
        let line = std::str::from_utf8(&rest[..end]).map_err(|_| "a chunk size is not text")?;
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {line:?}"))?;
        rest = &rest[end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("a chunk is cut off")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("a chunk is cut off")?;
    }
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

    #[test]
    fn responses_are_parsed_with_lengths_and_chunks() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}extra").unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.body(), b"{}");
        let r = parse_response(b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n").unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(r.body(), b"{\"a\":1}");
        let r = parse_response(b"HTTP/1.0 200 OK\r\n\r\nuntil the end").unwrap();
        assert_eq!(r.body(), b"until the end");
        assert!(parse_response(b"garbage\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").is_err());
    }

    #[test]
    fn tokens_are_replaced_before_they_expire() {
        let now = SystemTime::now();
        let c = |left: u64, lifetime: u64| Current {
            token: Secret::new("t"),
            expires_at: now + Duration::from_secs(left),
            lifetime: Duration::from_secs(lifetime),
            proven: false,
        };
        assert!(c(3599, 3600).fresh(now));
        assert!(
            !c(299, 3600).fresh(now),
            "five minutes before an hour's token ends"
        );
        assert!(c(2, 4).fresh(now));
        assert!(!c(0, 4).fresh(now));
    }
}
