//! What a message may ask for beyond its content: DKIM signing, a template, delivery
//! status notifications, `Auto-Submitted` and priority.

#[connector_sdk::settings]
/// DKIM signing (RFC 6376).
pub struct Dkim {
    /// The selector: the key is published at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// The signing domain (`d=`), usually the sender's.
    pub domain: String,
    /// The private key: an RSA key in PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`,
    /// `openssl genrsa -traditional 2048`), or for `ed25519` the base64 of its 32-byte
    /// seed.
    pub private_key: connector_sdk::Secret,
    /// `rsa` (the default) or `ed25519`.
    #[serde(default)]
    pub algorithm: DkimAlgorithm,
}

#[connector_sdk::settings]
#[derive(Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// A DKIM signing algorithm.
pub enum DkimAlgorithm {
    /// RSA with SHA-256.
    #[default]
    Rsa,
    /// Ed25519 (RFC 8463).
    Ed25519,
}

impl Dkim {
    /// The signing configuration, or a config error that never quotes the key.
    pub(crate) fn signer(&self) -> connector_sdk::Result<lettre::message::dkim::DkimConfig> {
        use lettre::message::dkim::{
            DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
            DkimSigningKey,
        };
        let algorithm = match self.algorithm {
            DkimAlgorithm::Rsa => DkimSigningAlgorithm::Rsa,
            DkimAlgorithm::Ed25519 => DkimSigningAlgorithm::Ed25519,
        };
        let key = DkimSigningKey::new(self.private_key.expose().trim(), algorithm).map_err(|_| {
            connector_sdk::Error::config(
                "/dkim/private_key",
                match self.algorithm {
                    DkimAlgorithm::Rsa => "not an RSA private key in PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`; convert a PKCS#8 key with `openssl rsa -traditional`)",
                    DkimAlgorithm::Ed25519 => "not the base64 of a 32-byte Ed25519 seed",
                },
            )
        })?;
        // Relaxed/relaxed (RFC 6376 section 3.4): servers on the way may refold headers
        // or change line endings, which simple header canonicalization does not survive.
        // The headers lettre holds when it signs (MIME-Version and the top Content-Type
        // are written later, with the body, so signing them would sign what is not
        // sent: found by the independent verifier).
        let headers = [
            "From",
            "Subject",
            "To",
            "Cc",
            "Date",
            "Message-ID",
            "Reply-To",
            "In-Reply-To",
            "References",
        ]
        .into_iter()
        .filter_map(|h| lettre::message::header::HeaderName::new_from_ascii(h.to_owned()).ok())
        .collect();
        Ok(DkimConfig::new(
            self.selector.clone(),
            self.domain.clone(),
            key,
            headers,
            DkimCanonicalization {
                header: DkimCanonicalizationType::Relaxed,
                body: DkimCanonicalizationType::Relaxed,
            },
        ))
    }
}

#[connector_sdk::settings]
/// A message template (Jinja syntax): each part given is rendered with the request's
/// `variables`.
pub struct Template {
    /// The subject (`Invoice {{ number }}`).
    #[serde(default)]
    pub subject: Option<String>,
    /// The plain-text body.
    #[serde(default)]
    pub text: Option<String>,
    /// The HTML body; inserted values are HTML-escaped (`|safe` opts out).
    #[serde(default)]
    pub html: Option<String>,
}

#[connector_sdk::settings]
/// What delivery status notifications to ask for (RFC 3461).
pub struct Dsn {
    /// When to be notified: any of `success`, `failure`, `delay`; or `never` alone.
    #[serde(default = "on_failure")]
    pub notify: Vec<DsnNotify>,
    /// How much of the message a notification returns: `headers` or `full`.
    #[serde(default)]
    pub ret: Option<DsnReturn>,
    /// An id the notification quotes (`Original-Envelope-Id`): printable ASCII, at most
    /// 100 characters.
    #[serde(default)]
    pub envid: Option<String>,
}

fn on_failure() -> Vec<DsnNotify> {
    vec![DsnNotify::Failure]
}

#[connector_sdk::settings]
#[derive(Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// When a delivery status notification is sent.
pub enum DsnNotify {
    /// On delivery.
    Success,
    /// When delivery fails.
    Failure,
    /// When delivery is delayed.
    Delay,
    /// Never.
    Never,
}

#[connector_sdk::settings]
#[derive(Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// How much of the message a notification returns.
pub enum DsnReturn {
    /// The headers only.
    Headers,
    /// The whole message.
    Full,
}

#[connector_sdk::settings]
#[derive(Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// What kind of automatic message this is (RFC 3834).
pub enum AutoSubmitted {
    /// Made by a process, not in reply to anything (alerts, invoices, newsletters).
    AutoGenerated,
    /// An automatic answer to a message (an out-of-office reply).
    AutoReplied,
    /// An automatic notification (RFC 5230).
    AutoNotified,
}

impl AutoSubmitted {
    /// The header value.
    pub fn header(self) -> &'static str {
        match self {
            Self::AutoGenerated => "auto-generated",
            Self::AutoReplied => "auto-replied",
            Self::AutoNotified => "auto-notified",
        }
    }
}

#[connector_sdk::settings]
#[derive(Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// Message priority.
pub enum Priority {
    /// X-Priority 1, Importance high.
    High,
    /// X-Priority 3, Importance normal.
    Normal,
    /// X-Priority 5, Importance low.
    Low,
}
