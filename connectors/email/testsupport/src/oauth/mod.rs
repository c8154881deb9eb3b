//! An OAuth 2.0 token endpoint on loopback, for connectors that log in with tokens.
//!
//! For testing connectors that log in with access tokens: it serves the `client_credentials`, `password` and `refresh_token`
//! grants (RFC 6749 sections 4.4, 4.3 and 6) and mints JWTs that the harness's Dovecot
//! accepts (see [`MailServers::access_token`]).
//!
//! It behaves like the providers where it matters to a client: client credentials by
//! HTTP Basic or in the form, Microsoft-style error bodies
//! (`{"error": "invalid_client", "error_description": "AADSTS7000215: …"}`), refresh
//! tokens rotated on every use (the old one stops working), and a lifetime the test
//! chooses. It can also answer garbage or be unavailable, and it records every request
//! (never the secrets) for assertions.
//!
//! ```no_run
//! use email_testsupport::mail::MailServers;
//! use email_testsupport::oauth::TokenEndpoint;
//!
//! let servers = MailServers::shared().unwrap();
//! let endpoint = TokenEndpoint::start(servers).unwrap();
//! let user = servers.new_user();
//! let app = endpoint.app(&user);
//! let auth = serde_json::json!({
//!     "type": "oauth2", "username": user.address, "grant": "client_credentials",
//!     "token_url": endpoint.url(), "client_id": app.client_id, "client_secret": app.client_secret,
//! });
//! # let _ = auth;
//! ```

use std::collections::HashMap;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

mod exchange;

use crate::mail::{HarnessError, MailServers, User};
use exchange::serve;

/// A registered confidential client (an app registration with a secret).
#[derive(Debug, Clone)]
pub struct App {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
}

/// How the endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Like a provider.
    Normal,
    /// `200 OK` with a JSON content type and a body that is not JSON.
    Garbage,
    /// `503 Service Unavailable` with an HTML page (an overloaded provider or proxy).
    Unavailable,
}

/// One token request, as the endpoint saw it (without secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// `grant_type`.
    pub grant_type: String,
    /// The client id, from the form or HTTP Basic.
    pub client_id: String,
    /// Whether the client authenticated with HTTP Basic.
    pub basic_auth: bool,
    /// The `scope` parameter, if any.
    pub scope: Option<String>,
    /// The HTTP status of the answer.
    pub status: u16,
}

struct Client {
    secret: Option<String>,
    /// The mailbox its app-only tokens open (the service principal's mailbox
    /// permission).
    mailbox: Option<String>,
}

struct State {
    key: Vec<u8>,
    clients: HashMap<String, Client>,
    users: HashMap<String, String>,
    refresh_tokens: HashMap<String, (String, String)>,
    lifetime: Duration,
    reported: Option<Duration>,
    mode: Mode,
    requests: Vec<TokenRequest>,
    issued: Vec<String>,
    counter: u64,
}

/// A token endpoint on `127.0.0.1`, stopped when dropped.
pub struct TokenEndpoint {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl TokenEndpoint {
    /// Starts an endpoint whose tokens `servers` accept. Tokens last an hour unless
    /// [`set_lifetime`](Self::set_lifetime) says otherwise.
    ///
    /// # Errors
    /// When the signing key cannot be read or no port can be bound.
    pub fn start(servers: &MailServers) -> Result<Self, HarnessError> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            key: servers.signing_key()?,
            clients: HashMap::new(),
            users: HashMap::new(),
            refresh_tokens: HashMap::new(),
            lifetime: Duration::from_secs(3600),
            reported: None,
            mode: Mode::Normal,
            requests: Vec::new(),
            issued: Vec::new(),
            counter: 0,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("token-endpoint".into())
                .spawn(move || {
                    for conn in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        if let Ok(conn) = conn {
                            let state = Arc::clone(&state);
                            std::thread::spawn(move || {
                                let _ = serve(conn, &state);
                            });
                        }
                    }
                })?
        };
        Ok(Self {
            addr,
            state,
            stop,
            thread: Some(thread),
        })
    }

    /// The token URL (`http://127.0.0.1:PORT/tenant/oauth2/v2.0/token`).
    pub fn url(&self) -> String {
        format!("http://{}/tenant/oauth2/v2.0/token", self.addr)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a confidential client whose `client_credentials` tokens open
    /// `mailbox` (as an app registration with `IMAP.AccessAsApp` and
    /// `SMTP.SendAsApp`, whose service principal was given that mailbox). It may use
    /// the other grants too.
    pub fn app(&self, mailbox: &User) -> App {
        let mut state = self.state();
        state.counter += 1;
        let app = App {
            client_id: format!("app-{}-{}", state.counter, random_hex(4)),
            client_secret: format!("secret-{}", random_hex(16)),
        };
        state.clients.insert(
            app.client_id.clone(),
            Client {
                secret: Some(app.client_secret.clone()),
                mailbox: Some(mailbox.address.clone()),
            },
        );
        app
    }

    /// Registers a public client (no secret), for the `password` and
    /// `refresh_token` grants. Returns its id.
    pub fn public_client(&self) -> String {
        let mut state = self.state();
        state.counter += 1;
        let id = format!("public-{}-{}", state.counter, random_hex(4));
        state.clients.insert(
            id.clone(),
            Client {
                secret: None,
                mailbox: None,
            },
        );
        id
    }

    /// Lets `user` sign in with the `password` grant using their password.
    pub fn allow_password(&self, user: &User) {
        self.state()
            .users
            .insert(user.address.clone(), user.password.clone());
    }

    /// A refresh token for `user` issued to `client_id`, as an interactive consent
    /// would leave behind.
    pub fn refresh_token(&self, client_id: &str, user: &User) -> String {
        let token = format!("rt-{}", random_hex(24));
        let mut state = self.state();
        state
            .refresh_tokens
            .insert(token.clone(), (client_id.to_owned(), user.address.clone()));
        state.issued.push(token.clone());
        token
    }

    /// How long new tokens last (their `exp`, and `expires_in` unless
    /// [`set_reported_lifetime`](Self::set_reported_lifetime) says otherwise).
    /// Whole seconds.
    pub fn set_lifetime(&self, lifetime: Duration) {
        self.state().lifetime = lifetime;
    }

    /// Makes `expires_in` say `reported` whatever the token's real lifetime: a token
    /// that the server stops accepting before the client expects (revoked, or clocks
    /// apart). `None` tells the truth again.
    pub fn set_reported_lifetime(&self, reported: Option<Duration>) {
        self.state().reported = reported;
    }

    /// How the endpoint answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.state().mode = mode;
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.state().requests.clone()
    }

    /// Every access and refresh token issued so far, to check that none leaks.
    pub fn issued(&self) -> Vec<String> {
        self.state().issued.clone()
    }

    /// How many requests asked for `grant_type` and got a token.
    pub fn tokens_issued(&self, grant_type: &str) -> usize {
        self.state()
            .requests
            .iter()
            .filter(|r| r.grant_type == grant_type && r.status == 200)
            .count()
    }
}

impl Drop for TokenEndpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut buf);
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
