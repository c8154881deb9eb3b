//! SASL for OAuth 2.0 bearer tokens: the initial responses of XOAUTH2 and OAUTHBEARER,
//! and the error a server sends as a challenge when it refuses a token.

use base64::Engine as _;

use crate::settings::OauthMechanism;

/// The initial client response, before base64.
pub(crate) fn initial_response(
    mechanism: OauthMechanism,
    user: &str,
    token: &str,
    host: &str,
    port: u16,
) -> String {
    match mechanism {
        OauthMechanism::Xoauth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01"),
        // RFC 7628: a GS2 header, then key=value pairs separated by ^A.
        OauthMechanism::Oauthbearer => {
            format!("n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01")
        }
    }
}

/// The initial client response, base64-encoded for an AUTH command.
pub(crate) fn initial_response_b64(
    mechanism: OauthMechanism,
    user: &str,
    token: &str,
    host: &str,
    port: u16,
) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(initial_response(mechanism, user, token, host, port))
}

/// The provider's reason in a failure challenge (`{"status":"401","schemes":"bearer"}`),
/// given decoded or in base64.
pub(crate) fn reason(challenge: &[u8]) -> String {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(String::from_utf8_lossy(challenge).trim())
        .unwrap_or_else(|_| challenge.to_vec());
    let text = String::from_utf8_lossy(&decoded).into_owned();
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) => {
            let status = v.get("status").and_then(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .or_else(|| s.as_u64().map(|n| n.to_string()))
            });
            let mut parts = Vec::new();
            if let Some(status) = status {
                parts.push(format!("status {status}"));
            }
            for key in ["error", "schemes", "scope"] {
                if let Some(value) = v.get(key).and_then(|x| x.as_str()) {
                    parts.push(format!("{key} {value}"));
                }
            }
            if parts.is_empty() {
                text
            } else {
                parts.join(", ")
            }
        }
        Err(_) => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_follow_the_specifications() {
        assert_eq!(
            initial_response(OauthMechanism::Xoauth2, "me@x", "tok", "h", 1),
            "user=me@x\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(
            initial_response(OauthMechanism::Oauthbearer, "me@x", "tok", "imap.x", 993),
            "n,a=me@x,\x01host=imap.x\x01port=993\x01auth=Bearer tok\x01\x01"
        );
    }

    #[test]
    fn reasons_are_read_from_json_challenges() {
        let b64 = base64::engine::general_purpose::STANDARD
            .encode(r#"{"status":"401","schemes":"bearer","scope":"mail"}"#);
        assert_eq!(
            reason(b64.as_bytes()),
            "status 401, schemes bearer, scope mail"
        );
        assert_eq!(reason(b"not json"), "not json");
    }
}
