//! Read Email's state: where a run got to in a folder (its UIDVALIDITY and the highest
//! UID delivered, with the UIDs below it that could not be read), written as
//! checkpoints after each batch, so a later run can go on from there (`mode: cursor`)
//! or commit what a platform has kept (`run --commit deferred`).

/// At most this many unreadable UIDs are remembered in a state.
const MAX_SKIPPED: usize = 10_000;

#[connector_sdk::settings]
#[derive(PartialEq, Eq)]
/// Where Read Email got to in a folder. UIDs mean something only under the folder's
/// UIDVALIDITY: when it changes, the state is not used.
pub struct ReadState {
    /// The folder read.
    pub folder: String,
    /// The folder's UIDVALIDITY when the state was written.
    pub uid_validity: u32,
    /// Every message with a UID up to this one was delivered, or is listed in
    /// `skipped`, or was gone when fetched.
    pub last_uid: u32,
    /// UIDs up to `last_uid` that could not be read (reported, never committed).
    #[serde(default)]
    pub skipped: Vec<u32>,
}

impl ReadState {
    /// Whether this state speaks of `folder` as it is now.
    pub(crate) fn applies_to(&self, folder: &str, uid_validity: u32) -> bool {
        let applies = self.folder == folder && self.uid_validity == uid_validity;
        if !applies {
            tracing::warn!(target: "email_connector::read", state_folder = %self.folder, state_uid_validity = self.uid_validity, folder, uid_validity, "the given state is for another folder or UIDVALIDITY: not used, the folder is read from its start");
        }
        applies
    }
}

/// Builds the checkpoints of a run from what each batch delivered.
#[derive(Debug)]
pub(crate) struct Progress {
    state: ReadState,
}

impl Progress {
    /// Starting from the previous state (when it applies), or from nothing.
    pub(crate) fn new(folder: &str, uid_validity: u32, previous: Option<&ReadState>) -> Self {
        let state = match previous.filter(|p| p.applies_to(folder, uid_validity)) {
            Some(p) => p.clone(),
            None => ReadState {
                folder: folder.to_owned(),
                uid_validity,
                last_uid: 0,
                skipped: Vec::new(),
            },
        };
        Self { state }
    }

    /// The highest UID covered so far.
    pub(crate) fn last_uid(&self) -> u32 {
        self.state.last_uid
    }

    /// A batch up to `last_uid` was handed on; `skipped` are its UIDs that could not
    /// be read. Returns the checkpoint.
    pub(crate) fn batch_done(&mut self, last_uid: u32, skipped: &[u32]) -> ReadState {
        self.state.last_uid = self.state.last_uid.max(last_uid);
        self.state.skipped.extend_from_slice(skipped);
        if self.state.skipped.len() > MAX_SKIPPED {
            let extra = self.state.skipped.len() - MAX_SKIPPED;
            self.state.skipped.drain(..extra);
        }
        self.state.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_advance_and_remember_unreadable_uids() {
        let mut p = Progress::new("INBOX", 7, None);
        assert_eq!(p.batch_done(10, &[4]).last_uid, 10);
        let s = p.batch_done(20, &[]);
        assert_eq!((s.last_uid, s.skipped.as_slice()), (20, &[4][..]));
        // A state for another UIDVALIDITY is not used.
        let fresh = Progress::new("INBOX", 8, Some(&s)).batch_done(3, &[]);
        assert_eq!(
            (fresh.uid_validity, fresh.last_uid, fresh.skipped.len()),
            (8, 3, 0)
        );
        // One that applies goes on from where it was.
        let on = Progress::new("INBOX", 7, Some(&s)).batch_done(25, &[22]);
        assert_eq!((on.last_uid, on.skipped.as_slice()), (25, &[4, 22][..]));
    }
}
