//! The token cache file: the current access token and the newest refresh token, kept
//! between runs, keyed by the settings they were issued for, written atomically with
//! mode 0600.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use connector_sdk::{Error, Result, Secret};
use sha2::Digest as _;

use super::{Current, Granted, State, TARGET};

impl Granted {
    /// The cache key: a token cached for other settings is not used.
    pub(super) fn cache_key(&self) -> String {
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

    pub(super) fn read_cache(&self, file: &Path, state: &mut State) {
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
    pub(super) fn write_cache(&self, file: &Path, state: &State, rotated: bool) -> Result<()> {
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
