//! The servers' files: a private CA and certificates (openssl), the users, and the
//! Dovecot and Postfix configurations filled in from `templates/`; the key Dovecot
//! trusts for OAuth 2.0 tokens and the tokens it signs.

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use super::{
    BUSY, DOMAIN, HarnessError, MailServers, TOKEN_AUDIENCE, TOKEN_ISSUER, USERS, User, VMAIL,
    check, chmod, chown, postfix_uid, user,
};

impl MailServers {
    pub(crate) fn write_tls(&self) -> Result<(), HarnessError> {
        let tls = self.path("tls");
        std::fs::create_dir_all(&tls)?;
        chmod(&tls, 0o755)?;
        self.write(
            "tls/server.ext",
            "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n",
        )?;
        let steps: [&[&str]; 4] = [
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=email-testsupport CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
            // A self-signed certificate no client trusts, for "untrusted certificate" tests.
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=untrusted",
                "-keyout",
                "other.key",
                "-out",
                "other.pem",
            ],
        ];
        for args in steps {
            let out = Command::new("/usr/bin/openssl")
                .args(args)
                .current_dir(&tls)
                .output()?;
            check(&format!("openssl {}", args[0]), &out)?;
        }
        for f in [
            "server.key",
            "server.pem",
            "ca.pem",
            "other.pem",
            "other.key",
        ] {
            chmod(&tls.join(f), 0o644)?;
        }
        Ok(())
    }

    pub(crate) fn write_users(&self) -> Result<(), HarnessError> {
        let mail = self.path("mail");
        std::fs::create_dir_all(&mail)?;
        chown(&mail, VMAIL, VMAIL)?;
        let mut passwd = String::new();
        let mut vmailbox = String::new();
        for n in 1..=USERS {
            let u = user(n);
            passwd.push_str(&format!(
                "{}:{{PLAIN}}{}:{VMAIL}:{VMAIL}::{}::\n",
                u.address,
                u.password,
                mail.join(&u.address).display()
            ));
            vmailbox.push_str(&format!("{} ok\n", u.address));
        }
        self.write("dovecot/users", &passwd)?;
        self.write("postfix/etc/vmailbox", &vmailbox)
    }

    pub(crate) fn write_dovecot(&self) -> Result<(), HarnessError> {
        let d = self.dir.path().display().to_string();
        let p = self.ports;
        let run = self.path("run");
        std::fs::create_dir_all(&run)?;
        chmod(&run, 0o755)?;
        let conf = render(
            include_str!("../../templates/dovecot.conf"),
            &[
                ("DIR", &d),
                ("PID", &std::process::id().to_string()),
                ("IMAP_PORT", &p.imap.to_string()),
                ("IMAPS_PORT", &p.imaps.to_string()),
            ],
        );
        self.write("dovecot/dovecot.conf", &conf)?;
        // OAuth 2.0: Dovecot checks the JWT's HS256 signature itself.
        self.write(
            "dovecot/oauth2.conf.ext",
            &render(
                include_str!("../../templates/oauth2.conf.ext"),
                &[
                    ("DIR", &d),
                    ("TOKEN_ISSUER", TOKEN_ISSUER),
                    ("TOKEN_AUDIENCE", TOKEN_AUDIENCE),
                ],
            ),
        )?;
        let mut key = [0u8; 32];
        use std::io::Read;
        std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
        use base64::Engine as _;
        self.write(
            "dovecot/keys/default/HS256/default",
            &base64::engine::general_purpose::STANDARD.encode(key),
        )?;
        std::fs::write(self.path("dovecot/signing.key"), key)?;
        chmod(&self.path("dovecot/signing.key"), 0o600)
    }

    /// An OAuth 2.0 access token (a JWT signed with the key Dovecot trusts) for `user`,
    /// valid for `ttl`; `Duration::ZERO` mints one that expires at once. Dovecot takes
    /// it for XOAUTH2 and OAUTHBEARER logins over IMAP and, through Postfix's SASL,
    /// SMTP submission.
    ///
    /// # Errors
    /// When the signing key cannot be read.
    pub fn access_token(&self, user: &User, ttl: Duration) -> Result<String, HarnessError> {
        Ok(sign_token(&self.signing_key()?, &user.address, ttl))
    }

    /// The key that signs access tokens (what Dovecot trusts).
    pub(crate) fn signing_key(&self) -> Result<Vec<u8>, HarnessError> {
        Ok(std::fs::read(self.path("dovecot/signing.key"))?)
    }

    pub(crate) fn write_postfix(&self) -> Result<(), HarnessError> {
        let d = self.dir.path().display().to_string();
        let p = self.ports;
        for sub in ["postfix/spool", "postfix/data", "log"] {
            std::fs::create_dir_all(self.path(sub))?;
            chmod(&self.path(sub), 0o755)?;
        }
        chown(&self.path("postfix/data"), postfix_uid()?, 0)?;
        let main = render(
            include_str!("../../templates/postfix-main.cf"),
            &[("DIR", &d), ("DOMAIN", DOMAIN)],
        );
        let master = render(
            include_str!("../../templates/postfix-master.cf"),
            &[
                ("SUBMISSION_PORT", &p.submission.to_string()),
                ("SMTPS_PORT", &p.smtps.to_string()),
                ("PLAIN_PORT", &p.smtp_plain.to_string()),
            ],
        );
        self.write("postfix/etc/main.cf", &main)?;
        self.write(
            "postfix/etc/access",
            &format!("{BUSY} 451 4.3.0 Mailbox busy, try again later\n"),
        )?;
        self.write("postfix/etc/master.cf", &master)
    }
}

/// How many seconds before now tokens say they were issued.
const ISSUED_BEFORE: u64 = 5;

/// A JWT for `address` signed with `key` (HS256), valid for `ttl`.
pub(crate) fn sign_token(key: &[u8], address: &str, ttl: Duration) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = json!({
        "iss": TOKEN_ISSUER,
        "aud": TOKEN_AUDIENCE,
        "sub": address,
        "email": address,
        // Backdated, as identity providers do: Dovecot compares `iat` with time(NULL),
        // which reads the kernel's coarse clock and can lag this precise one by a tick,
        // so a token issued just after a second boundary and used at once would be
        // "issued in future" (seen once in CI as a refused fresh token).
        "iat": now.saturating_sub(ISSUED_BEFORE),
        "exp": now + ttl.as_secs(),
    });
    let payload = b64.encode(claims.to_string());
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("{header}.{payload}").as_bytes());
    let signature = b64.encode(mac.finalize().into_bytes());
    format!("{header}.{payload}.{signature}")
}

/// Fills in a configuration template: each `@NAME@` becomes its value.
///
/// # Panics
/// When the template has a placeholder no value is given for (a template and its
/// caller disagree).
fn render(template: &str, values: &[(&str, &str)]) -> String {
    for piece in template.split('@').skip(1).step_by(2) {
        let is_name =
            !piece.is_empty() && piece.chars().all(|c| c.is_ascii_uppercase() || c == '_');
        assert!(
            !is_name || values.iter().any(|(name, _)| *name == piece),
            "template placeholder @{piece}@ has no value"
        );
    }
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("@{name}@"), value);
    }
    out
}
