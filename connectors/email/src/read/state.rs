//! Read Email's state: where a run got to in each folder (its UIDVALIDITY and the
//! highest UID delivered, with the UIDs below it that could not be read), written as
//! checkpoints after each batch, so a later run can go on from there (`mode: cursor`)
//! or commit what a platform has kept (`run --commit deferred`).
//!
//! The first folder's place is in the state's own fields (the shape a one-folder run
//! has always written, so states kept by a platform stay valid); the other folders of
//! the run (`folders`) are in `more`, one entry each.

/// At most this many unreadable UIDs are remembered per folder.
const MAX_SKIPPED: usize = 10_000;

#[connector_sdk::settings]
#[derive(PartialEq, Eq)]
/// Where Read Email got to in the folders of a run. UIDs mean something only under a
/// folder's UIDVALIDITY: when it changes, that folder's place is not used.
pub struct ReadState {
    /// The (first) folder read.
    pub folder: String,
    /// The folder's UIDVALIDITY when the state was written.
    pub uid_validity: u32,
    /// Every message with a UID up to this one was delivered, or is listed in
    /// `skipped`, or was gone when fetched.
    pub last_uid: u32,
    /// UIDs up to `last_uid` that could not be read (reported, never committed).
    #[serde(default)]
    pub skipped: Vec<u32>,
    /// The folder's highest mod-sequence when the state was written (with
    /// `flag_changes`): flag changes after it come in the next run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modseq: Option<u64>,
    /// The same for each other folder of the run (`folders`), in the order read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<FolderState>,
}

#[connector_sdk::settings]
#[derive(PartialEq, Eq)]
/// Where Read Email got to in one more folder (see [`ReadState`]).
pub struct FolderState {
    /// The folder.
    pub folder: String,
    /// Its UIDVALIDITY when the state was written.
    pub uid_validity: u32,
    /// Every message with a UID up to this one was delivered, skipped or gone.
    pub last_uid: u32,
    /// UIDs up to `last_uid` that could not be read.
    #[serde(default)]
    pub skipped: Vec<u32>,
    /// Its highest mod-sequence when the state was written (with `flag_changes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modseq: Option<u64>,
}

impl FolderState {
    fn fresh(folder: &str, uid_validity: u32) -> Self {
        Self {
            folder: folder.to_owned(),
            uid_validity,
            last_uid: 0,
            skipped: Vec::new(),
            modseq: None,
        }
    }
}

impl ReadState {
    /// The state a run of `folders` starts from: the places `previous` has for them
    /// (places of folders this run does not read are not carried on), the first
    /// folder's place in the state's own fields.
    pub(crate) fn for_run(folders: &[&str], previous: Option<&ReadState>) -> Self {
        let first = folders.first().copied().unwrap_or("INBOX");
        let known = |f: &str| previous.and_then(|p| p.place(f));
        let head = known(first).unwrap_or_else(|| FolderState::fresh(first, 0));
        Self {
            folder: head.folder,
            uid_validity: head.uid_validity,
            last_uid: head.last_uid,
            skipped: head.skipped,
            modseq: head.modseq,
            more: folders.iter().skip(1).filter_map(|f| known(f)).collect(),
        }
    }

    /// This state's place in `folder`, if it has one.
    pub(crate) fn place(&self, folder: &str) -> Option<FolderState> {
        if self.folder == folder {
            return Some(FolderState {
                folder: self.folder.clone(),
                uid_validity: self.uid_validity,
                last_uid: self.last_uid,
                skipped: self.skipped.clone(),
                modseq: self.modseq,
            });
        }
        self.more.iter().find(|m| m.folder == folder).cloned()
    }

    /// Its place in `folder` as it is now (same UIDVALIDITY), if it has one.
    pub(crate) fn place_now(&self, folder: &str, uid_validity: u32) -> Option<FolderState> {
        let place = self.place(folder)?;
        if place.uid_validity == uid_validity {
            return Some(place);
        }
        if place.last_uid != 0 {
            tracing::warn!(target: "email_connector::read", folder, state_uid_validity = place.uid_validity, uid_validity, "the folder's UIDVALIDITY changed since the state was written: its place is not used, the folder is read from its start");
        }
        None
    }

    fn put(&mut self, place: FolderState) {
        if self.folder == place.folder {
            self.uid_validity = place.uid_validity;
            self.last_uid = place.last_uid;
            self.skipped = place.skipped;
            self.modseq = place.modseq;
        } else if let Some(m) = self.more.iter_mut().find(|m| m.folder == place.folder) {
            *m = place;
        } else {
            self.more.push(place);
        }
    }
}

/// Builds the checkpoints of a run in one folder from what each batch delivered; each
/// checkpoint is the whole state (every folder of the run).
#[derive(Debug)]
pub(crate) struct Progress {
    all: ReadState,
    place: FolderState,
}

impl Progress {
    /// Reading `folder` (now at `uid_validity`), the run's state so far being `all`.
    pub(crate) fn new(folder: &str, uid_validity: u32, all: ReadState) -> Self {
        let place = all
            .place_now(folder, uid_validity)
            .unwrap_or_else(|| FolderState::fresh(folder, uid_validity));
        Self { all, place }
    }

    /// Whether `all` had a place in this folder under another UIDVALIDITY (one that
    /// covered something): the server renumbered the folder since.
    pub(crate) fn renumbered(all: &ReadState, folder: &str, uid_validity: u32) -> bool {
        all.place(folder)
            .is_some_and(|p| p.uid_validity != uid_validity && p.last_uid != 0)
    }

    /// Starts this folder's place at `last_uid` (everything up to it counts as done).
    pub(crate) fn start_at(&mut self, last_uid: u32) {
        self.place.last_uid = self.place.last_uid.max(last_uid);
    }

    /// The mod-sequence this folder's place was kept at (with `flag_changes`).
    pub(crate) fn modseq(&self) -> Option<u64> {
        self.place.modseq
    }

    /// Flag changes up to `modseq` are reported.
    pub(crate) fn set_modseq(&mut self, modseq: u64) {
        self.place.modseq = Some(modseq);
    }

    /// The highest UID covered so far in this folder.
    pub(crate) fn last_uid(&self) -> u32 {
        self.place.last_uid
    }

    /// A batch up to `last_uid` was handed on; `skipped` are its UIDs that could not
    /// be read. Returns the checkpoint.
    pub(crate) fn batch_done(&mut self, last_uid: u32, skipped: &[u32]) -> ReadState {
        let place = &mut self.place;
        place.last_uid = place.last_uid.max(last_uid);
        place.skipped.extend_from_slice(skipped);
        if place.skipped.len() > MAX_SKIPPED {
            let extra = place.skipped.len() - MAX_SKIPPED;
            place.skipped.drain(..extra);
        }
        self.state()
    }

    /// The whole state with this folder's place as it is now.
    pub(crate) fn state(&self) -> ReadState {
        let mut all = self.all.clone();
        all.put(self.place.clone());
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(folders: &[&str], previous: Option<&ReadState>) -> ReadState {
        ReadState::for_run(folders, previous)
    }

    #[test]
    fn checkpoints_advance_and_remember_unreadable_uids() {
        let mut p = Progress::new("INBOX", 7, run(&["INBOX"], None));
        assert_eq!(p.batch_done(10, &[4]).last_uid, 10);
        let s = p.batch_done(20, &[]);
        assert_eq!((s.last_uid, s.skipped.as_slice()), (20, &[4][..]));
        // A state for another UIDVALIDITY is not used.
        let fresh = Progress::new("INBOX", 8, run(&["INBOX"], Some(&s))).batch_done(3, &[]);
        assert_eq!(
            (fresh.uid_validity, fresh.last_uid, fresh.skipped.len()),
            (8, 3, 0)
        );
        // One that applies goes on from where it was.
        let on = Progress::new("INBOX", 7, run(&["INBOX"], Some(&s))).batch_done(25, &[22]);
        assert_eq!((on.last_uid, on.skipped.as_slice()), (25, &[4, 22][..]));
    }

    #[test]
    fn each_folder_has_its_own_place_and_every_checkpoint_carries_all() {
        let start = run(&["INBOX", "Lists/rust", "Spam"], None);
        let mut inbox = Progress::new("INBOX", 7, start);
        let after_inbox = inbox.batch_done(30, &[]);
        let mut rust = Progress::new("Lists/rust", 9, after_inbox);
        let s = rust.batch_done(12, &[11]);
        assert_eq!(
            (s.folder.as_str(), s.uid_validity, s.last_uid),
            ("INBOX", 7, 30)
        );
        assert_eq!(
            s.more,
            [FolderState {
                folder: "Lists/rust".into(),
                uid_validity: 9,
                last_uid: 12,
                skipped: vec![11],
                modseq: None
            }]
        );
        // The next run goes on in each folder from its own place.
        let next = run(&["INBOX", "Lists/rust", "Spam"], Some(&s));
        assert_eq!(Progress::new("INBOX", 7, next.clone()).last_uid(), 30);
        assert_eq!(Progress::new("Lists/rust", 9, next.clone()).last_uid(), 12);
        assert_eq!(Progress::new("Spam", 3, next.clone()).last_uid(), 0);
        // A folder whose UIDVALIDITY changed starts over; the others keep theirs.
        assert_eq!(Progress::new("Lists/rust", 10, next).last_uid(), 0);
        // A run without a folder does not carry its place on; a run whose first folder
        // was a later one before finds it.
        let only_rust = run(&["Lists/rust"], Some(&s));
        assert_eq!(
            (only_rust.folder.as_str(), only_rust.last_uid),
            ("Lists/rust", 12)
        );
        assert!(only_rust.more.is_empty());
    }

    #[test]
    fn a_one_folder_state_keeps_the_shape_it_always_had() {
        let s = Progress::new("INBOX", 7, run(&["INBOX"], None)).batch_done(5, &[]);
        let json = serde_json::to_value(&s).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"folder": "INBOX", "uid_validity": 7, "last_uid": 5, "skipped": []})
        );
        let old: ReadState = serde_json::from_value(
            serde_json::json!({"folder": "INBOX", "uid_validity": 7, "last_uid": 5}),
        )
        .expect("a state written before `more` existed");
        assert_eq!(
            Progress::new("INBOX", 7, run(&["INBOX"], Some(&old))).last_uid(),
            5
        );
    }
}
