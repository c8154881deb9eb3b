//! OAuth 2.0 access tokens for XOAUTH2 and OAUTHBEARER: requested with the `oauth2`
//! crate over `reqwest` (sharing the mail connections' rustls configuration and
//! timeouts), kept for the process, refreshed before they expire, and optionally kept
//! in a token cache file between runs (where a rotated refresh token goes).

mod cache;
mod http;
mod plan;

use std::time::{Duration, SystemTime};

use connector_sdk::{Error, Result, Secret};
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicErrorResponseType};
use oauth2::{
    AuthType, ClientId, ClientSecret, RefreshToken, RequestTokenError, ResourceOwnerPassword,
    ResourceOwnerUsername, Scope, TokenResponse, TokenUrl,
};

use plan::Provider;
pub(crate) use plan::{Plan, plan};

use crate::settings::{ClientAuth, Grant, OAuth2};
use crate::transport::Net;

const TARGET: &str = "email_connector::oauth2";
/// The lifetime assumed when a token response has no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

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
    http: http::Client,
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
                .field(
                    "token_url",
                    &crate::settings::redacted_url(g.plan.url.as_str()),
                )
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
                http: http::Client::new(net, at)?,
                plan,
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
        let http = &self.http;
        tracing::debug!(target: TARGET, grant = s.grant.name(), endpoint = %crate::settings::redacted_url(self.plan.url.as_str()), "requesting an access token");
        let result = match s.grant {
            Grant::ClientCredentials => {
                client
                    .exchange_client_credentials()
                    .add_scopes(scopes)
                    .request_async(http)
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
                    .request_async(http)
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
                    .request_async(http)
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
                    format!("at `{}`: {}", err.path(), http::category(err.inner()))
                } else {
                    format!("not JSON: {}", http::snippet(&body))
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
