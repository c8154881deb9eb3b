//! The *Test* button: [`Connection::check`] for the email connection. The token
//! request is a step of its own; then each server is opened by the same code that opens
//! it for work, with every step reported, and the IMAP check examines INBOX.

use std::sync::Arc;

use connector_sdk::{CheckReport, Connection, Result};

use crate::auth::Login;
use crate::auth::oauth::Tokens;
use crate::connection::EmailConnection;
use crate::protocol::imap::classify;
use crate::transport::Steps;

#[connector_sdk::connection]
impl Connection for EmailConnection {
    async fn check(&self) -> CheckReport {
        let mut report = CheckReport::new();
        let failed = self.check_tokens(&mut report).await;
        let token_ok = |login: &Login| {
            login
                .tokens()
                .is_none_or(|t| !failed.iter().any(|f| Arc::ptr_eq(f, t)))
        };
        if let Some(smtp) = &self.smtp {
            let mut steps = Steps::reported("smtp", &smtp.steps(), &mut report);
            if let Ok(session) = smtp.open(&mut steps, token_ok(&smtp.login)).await {
                session.quit().await;
            }
        }
        if let Some(imap) = &self.imap {
            let mut steps = Steps::reported("imap", &imap.steps(), &mut report);
            if let Ok(mut session) = imap.open(&mut steps, token_ok(&imap.login)).await {
                let what = imap.what();
                let examine = async {
                    let mailbox = session
                        .examine("INBOX")
                        .await
                        .map_err(|e| classify(&what, "EXAMINE INBOX", e))?;
                    Ok(format!(
                        "INBOX: {} messages, UIDVALIDITY {}",
                        mailbox.exists,
                        mailbox.uid_validity.unwrap_or(0)
                    ))
                };
                let _ = steps.run("select", examine, String::clone).await;
                let _ = tokio::time::timeout(imap.net.timeouts.io(), session.logout()).await;
            }
        }
        report
    }

    async fn close(self) -> Result<()> {
        if let (Some(mut session), Some(imap)) = (self.session.into_inner(), &self.imap) {
            let _ = tokio::time::timeout(imap.net.timeouts.io(), session.logout()).await;
        }
        Ok(())
    }
}

impl EmailConnection {
    /// One step per token source (one, unless SMTP and IMAP log in differently), before
    /// the servers. Returns the sources that failed.
    async fn check_tokens(&self, report: &mut CheckReport) -> Vec<Arc<Tokens>> {
        let mut sources: Vec<&Arc<Tokens>> = Vec::new();
        let logins = [
            self.smtp.as_ref().map(|s| &s.login),
            self.imap.as_ref().map(|s| &s.login),
        ];
        for tokens in logins.iter().flatten().filter_map(|l| l.tokens()) {
            if !sources.iter().any(|s| Arc::ptr_eq(s, tokens)) {
                sources.push(tokens);
            }
        }
        let mut failed = Vec::new();
        for (i, tokens) in sources.iter().enumerate() {
            let name = match (sources.len(), i) {
                (1, _) => "oauth2.token",
                (_, 0) if self.smtp.as_ref().and_then(|s| s.login.tokens()).is_some() => {
                    "smtp.oauth2.token"
                }
                _ => "imap.oauth2.token",
            };
            if report.step(name, tokens.describe()).await.is_err() {
                failed.push(Arc::clone(tokens));
            }
        }
        failed
    }
}
