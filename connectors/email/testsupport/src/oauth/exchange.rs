//! The token endpoint's side of the wire: one HTTP/1.1 request read and answered per
//! connection, and the grant rules (client authentication, the three grants, refresh
//! token rotation, Microsoft-style error bodies).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Mode, State, TokenRequest, random_hex};
use crate::mail::sign_token;

/// Serves one connection: one request, then close.
pub(super) fn serve(conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let (status, content_type, answer) = if !line.starts_with("POST ") {
        (
            405,
            "application/json",
            json!({"error": "invalid_request", "error_description": "POST only"}).to_string(),
        )
    } else {
        match state.mode {
            Mode::Garbage => (
                200,
                "application/json",
                "<html><body>Welcome to the captive portal</body></html>".to_owned(),
            ),
            Mode::Unavailable => (
                503,
                "text/html",
                "<html><body><h1>503 Service Unavailable</h1></body></html>".to_owned(),
            ),
            Mode::Normal => {
                let form = parse_form(&String::from_utf8_lossy(&body));
                let (status, answer) = grant(&mut state, &form, headers.get("authorization"));
                (
                    status,
                    "application/json; charset=utf-8",
                    answer.to_string(),
                )
            }
        }
    };
    if line.starts_with("POST ") {
        let form = parse_form(&String::from_utf8_lossy(&body));
        let basic = basic_credentials(headers.get("authorization"));
        state.requests.push(TokenRequest {
            grant_type: form.get("grant_type").cloned().unwrap_or_default(),
            client_id: basic
                .as_ref()
                .map(|(id, _)| id.clone())
                .or_else(|| form.get("client_id").cloned())
                .unwrap_or_default(),
            basic_auth: basic.is_some(),
            scope: form.get("scope").cloned(),
            status,
        });
    }
    drop(state);
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let mut out = conn;
    write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    )?;
    out.flush()
}

/// Decides a token request: `(status, JSON body)`.
fn grant(
    state: &mut State,
    form: &HashMap<String, String>,
    authorization: Option<&String>,
) -> (u16, Value) {
    let error = |status: u16, code: &str, description: &str| {
        (
            status,
            json!({"error": code, "error_description": description}),
        )
    };
    let (client_id, secret) = match basic_credentials(authorization) {
        Some((id, secret)) => (id, Some(secret)),
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned(),
        ),
    };
    let Some(client) = state.clients.get(&client_id) else {
        return error(
            400,
            "unauthorized_client",
            &format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory."
            ),
        );
    };
    if let Some(expected) = &client.secret
        && secret.as_deref() != Some(expected.as_str())
    {
        return error(
            401,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        );
    }
    let mailbox = client.mailbox.clone();
    let confidential = client.secret.is_some();
    let scope = form.get("scope").cloned().unwrap_or_default();
    let (address, refresh) = match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            if !confidential {
                return error(
                    401,
                    "invalid_client",
                    "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                );
            }
            // Without a mailbox permission the token opens nothing.
            (
                mailbox.unwrap_or_else(|| "no-mailbox@app.invalid".into()),
                false,
            )
        }
        Some("password") => {
            let user = form.get("username").cloned().unwrap_or_default();
            let password = form.get("password").cloned().unwrap_or_default();
            if state.users.get(&user) != Some(&password) {
                return error(
                    400,
                    "invalid_grant",
                    "AADSTS50126: Error validating credentials due to invalid username or password.",
                );
            }
            (user, scope.split(' ').any(|s| s == "offline_access"))
        }
        Some("refresh_token") => {
            let given = form.get("refresh_token").cloned().unwrap_or_default();
            match state.refresh_tokens.get(&given) {
                Some((owner, user)) if *owner == client_id => {
                    let user = user.clone();
                    // Rotated: the token just used stops working.
                    state.refresh_tokens.remove(&given);
                    (user, true)
                }
                _ => {
                    return error(
                        400,
                        "invalid_grant",
                        "AADSTS70000: The provided value for the 'refresh_token' is not valid. The refresh token was already used, revoked, or issued to another client.",
                    );
                }
            }
        }
        Some(other) => {
            return error(
                400,
                "unsupported_grant_type",
                &format!("AADSTS70003: The app requested an unsupported grant type '{other}'."),
            );
        }
        None => {
            return error(
                400,
                "invalid_request",
                "AADSTS900144: The request body must contain the following parameter: 'grant_type'.",
            );
        }
    };
    let access = sign_token(&state.key, &address, state.lifetime);
    state.issued.push(access.clone());
    let mut answer = json!({
        "token_type": "Bearer",
        "access_token": access,
        "expires_in": state.reported.unwrap_or(state.lifetime).as_secs(),
        "ext_expires_in": state.lifetime.as_secs(),
    });
    if !scope.is_empty() {
        answer["scope"] = scope.into();
    }
    if refresh {
        let token = format!("rt-{}", random_hex(24));
        state
            .refresh_tokens
            .insert(token.clone(), (client_id, address));
        state.issued.push(token.clone());
        answer["refresh_token"] = token.into();
    }
    (200, answer)
}

fn basic_credentials(authorization: Option<&String>) -> Option<(String, String)> {
    use base64::Engine as _;
    let encoded = authorization?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    // RFC 6749 section 2.3.1: both are form-urlencoded before encoding.
    Some((percent_decode(id), percent_decode(secret)))
}

fn parse_form(body: &str) -> HashMap<String, String> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

/// One form-urlencoded value (`+` is a space), as in HTTP Basic client credentials.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_decoded() {
        let form = parse_form("grant_type=client_credentials&scope=a%2Fb+c&x=%zz");
        assert_eq!(form["grant_type"], "client_credentials");
        assert_eq!(form["scope"], "a/b c");
        assert_eq!(form["x"], "%zz");
        assert_eq!(percent_decode("a%"), "a%");
    }
}
