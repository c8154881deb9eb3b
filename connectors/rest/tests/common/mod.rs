//! A small JSON API on loopback for the REST connector's tests: items behind a bearer
//! token, cursor pages, a rate limit that answers `429` with `Retry-After`, and a name
//! it refuses with `422`. HTTP/1.1, one request per connection.

#![allow(dead_code, unused_imports)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_rest-connector");
pub const TOKEN: &str = "canary-token-7Hq";

#[derive(Default)]
struct State {
    items: Vec<(u64, String)>,
    requests: u64,
    limited: u64,
    rate_limit_every: u64,
}

/// The API: alive until the test process ends.
pub struct ItemsApi {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl ItemsApi {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = serve(stream, &state);
                });
            }
        });
        Self { port, state }
    }

    /// Adds `n` items named `item-<id>`.
    pub fn seed(&self, n: u64) {
        let mut s = self.state.lock().expect("lock");
        for _ in 0..n {
            let id = s.items.len() as u64 + 1;
            s.items.push((id, format!("item-{id}")));
        }
    }

    /// Every `n`th request is answered `429` with `Retry-After: 1` (0: never).
    pub fn rate_limit_every(&self, n: u64) {
        self.state.lock().expect("lock").rate_limit_every = n;
    }

    /// The names of every item, in id order.
    pub fn names(&self) -> Vec<String> {
        let s = self.state.lock().expect("lock");
        s.items.iter().map(|(_, n)| n.clone()).collect()
    }

    /// How many requests were answered `429`.
    pub fn limited(&self) -> u64 {
        self.state.lock().expect("lock").limited
    }

    pub fn settings(&self) -> Value {
        json!({"base_url": format!("http://127.0.0.1:{}/v1", self.port), "token": TOKEN})
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (mut auth, mut length) = (String::new(), 0_usize);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((&header, ""));
        match name.to_ascii_lowercase().as_str() {
            "authorization" => auth = value.trim().to_owned(),
            "content-length" => length = value.trim().parse().unwrap_or(0),
            _ => {}
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let (status, extra, answer) = respond(method, target, &auth, &body, state);
    let text = answer.to_string();
    write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{text}",
        text.len()
    )
}

fn respond(
    method: &str,
    target: &str,
    auth: &str,
    body: &[u8],
    state: &Mutex<State>,
) -> (u16, String, Value) {
    let mut s = state.lock().expect("lock");
    s.requests += 1;
    if auth != format!("Bearer {TOKEN}") {
        return (401, String::new(), json!({"error": "invalid token"}));
    }
    if s.rate_limit_every > 0 && s.requests.is_multiple_of(s.rate_limit_every) {
        s.limited += 1;
        return (
            429,
            "Retry-After: 1\r\n".into(),
            json!({"error": "slow down"}),
        );
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |key: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.parse::<u64>().ok())
    };
    match (method, path) {
        ("GET", "/v1/items") => {
            let after = param("after").unwrap_or(0);
            let limit = param("limit").unwrap_or(50) as usize;
            let rest: Vec<&(u64, String)> = s.items.iter().filter(|(id, _)| *id > after).collect();
            let page: Vec<Value> = rest
                .iter()
                .take(limit)
                .map(|(id, name)| json!({"id": id, "name": name, "created_by": "api"}))
                .collect();
            let mut answer = json!({"items": page});
            if rest.len() > limit {
                answer["next"] = json!(rest[limit - 1].0);
            }
            (200, String::new(), answer)
        }
        ("POST", "/v1/items") => {
            let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let name = request["name"].as_str().unwrap_or_default().to_owned();
            if name == "reject-me" {
                return (
                    422,
                    String::new(),
                    json!({"error": "the name `reject-me` is reserved"}),
                );
            }
            let id = s.items.len() as u64 + 1;
            s.items.push((id, name.clone()));
            (201, String::new(), json!({"id": id, "name": name}))
        }
        _ => (404, String::new(), json!({"error": "no such route"})),
    }
}

/// Runs the binary with `args`, `stdin` piped in.
pub fn run(args: &[&str], stdin: &str) -> Output {
    connector_testkit::cli::output_within(
        Command::new(BIN).args(args),
        Some(stdin.as_bytes()),
        std::time::Duration::from_secs(60),
    )
}

/// Writes `value` to a file in `dir`; returns its path.
pub fn file(dir: &tempfile::TempDir, name: &str, value: &Value) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, value.to_string()).expect("write");
    path.to_str().expect("utf-8").to_owned()
}

pub use connector_testkit::cli::{code, last_error, stdout_lines};
