//! DKIM signing (RFC 6376), checked by a verifier that is not our signer: dkimpy
//! (Debian's `python3-dkim`), with the public key given for the selector's DNS name.
//! The message is verified as Dovecot stored it, after Postfix and LMTP handled it.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Fixture, code, servers, stderr};
use serde_json::json;

/// Verifies `message` with dkimpy against `public_key` (base64 DER); dkimpy's answer.
fn dkimpy_verifies(message: &[u8], public_key: &str, dir: &std::path::Path) -> bool {
    let msg = dir.join("message.eml");
    std::fs::write(&msg, message).expect("write");
    let script = r#"
import sys, dkim, logging
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
message = open(sys.argv[1], 'rb').read()
record = ("v=DKIM1; k=rsa; p=" + sys.argv[2]).encode()
def dns(name, timeout=5):
    return record if name == b"s1._domainkey.example.test." else None
print(dkim.verify(message, dnsfunc=dns))
"#;
    let out = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(&msg)
        .arg(public_key)
        .output()
        .expect("python3 with dkim (Debian's python3-dkim, installed by scripts/install-deps.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ok = String::from_utf8_lossy(&out.stdout).trim() == "True";
    if !ok {
        eprintln!("dkimpy: {}", String::from_utf8_lossy(&out.stderr));
    }
    ok
}

#[test]
fn a_signed_message_verifies_with_an_independent_verifier() {
    let fx = Fixture::new();
    let key = fx.dir.path().join("dkim.pem");
    let made = Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&key)
        .arg("2048")
        .output()
        .expect("openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let public = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl rsa -in {} -pubout -outform DER 2>/dev/null | base64 -w0",
            key.display()
        ))
        .output()
        .expect("public key");
    let public = String::from_utf8_lossy(&public.stdout).trim().to_owned();

    let config =
        json!({"dkim": {"selector": "s1", "domain": "example.test", "private_key": {"file": key}}});
    let out = fx.send(
        config,
        json!({"from": fx.peer.address, "to": fx.user.address, "subject": "signed ✓", "text": "Signed body.\nSecond line.", "html": "<p>Signed</p>"}),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let stored = servers()
        .wait_for(&fx.user, "INBOX", 1, Duration::from_secs(15))
        .expect("delivered");
    let raw = servers()
        .raw_message(&fx.user, "INBOX", stored[0].uid)
        .expect("raw");
    assert!(String::from_utf8_lossy(&raw).contains("DKIM-Signature:"));
    assert!(
        dkimpy_verifies(&raw, &public, fx.dir.path()),
        "dkimpy refused the signature"
    );
    // The verifier checks: a changed body fails.
    let tampered = String::from_utf8_lossy(&raw).replace("Signed body.", "Changed body.");
    assert!(!dkimpy_verifies(
        tampered.as_bytes(),
        &public,
        fx.dir.path()
    ));

    // A key in the wrong form is refused before anything is sent, naming the setting.
    let out = fx.send(
        json!({"dkim": {"selector": "s1", "domain": "example.test", "private_key": "not a key"}}),
        json!({"from": fx.peer.address, "to": fx.user.address, "subject": "x", "text": "x"}),
    );
    assert_eq!(code(&out), 2);
    let err = common::last_error(&out);
    assert_eq!(err["path"], "/dkim/private_key", "{err}");
    assert!(
        !err.to_string().contains("not a key"),
        "the key is never quoted: {err}"
    );
}
