//! Read Email: a source that emits messages of a folder and commits them (mark seen,
//! delete or move) only after the host has delivered them.

//!
//! Split by concern: [`config`] (the settings and their rules), [`record`] (what is
//! emitted), [`mime`] (a message to a record, walking its part tree with [`tree`]), [`mailbox`] (the IMAP side: search,
//! fetch, commit); this file is the source that ties them together.

mod commit;
mod config;
mod fields;
mod flow;
mod follow;
mod header;
mod mailbox;
mod mime;
mod pass;
#[cfg(test)]
mod prop_tests;
mod record;
mod save;
mod state;
mod tree;
mod uu;

use connector_sdk::{Emitter, Error, Object, Result, Source};

pub use config::{
    AfterRead, AttachmentMode, Date, Filter, ReadConfig, ReadMode, SaveTo, SaveWhat,
    UidValidityChange,
};
pub use record::{AddressRecord, AttachmentRecord, BodyPart, Change, EmailRecord, HeaderRecord};
pub use state::{FolderState, ReadState};

use crate::connection::EmailConnection;
use commit::{commit_in, commit_place};
use mailbox::search_query;
use pass::{Scope, pass};

pub(crate) const TARGET: &str = "email_connector::read";

/// The `read` source.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadEmail;

/// Reads messages from IMAP folders (unread ones by default) without marking them,
/// emits one record per message, and marks them read, deletes or moves them only after
/// the records were delivered. `discover` lists the folders.
#[connector_sdk::activity(name = "read")]
impl Source for ReadEmail {
    type Connection = EmailConnection;
    type Config = ReadConfig;
    type Record = EmailRecord<'static>;
    /// The folder's place in the run (0 is `folder`, then `folders`) and the UID.
    type Ack = (u16, u32);
    type State = ReadState;

    fn validate(&self, config: &ReadConfig) -> Result<()> {
        search_query(config)?;
        config.check()
    }

    async fn read(
        &self,
        conn: &EmailConnection,
        config: &ReadConfig,
        out: &Emitter<EmailRecord<'static>, (u16, u32), ReadState>,
    ) -> Result<()> {
        if config.follow {
            return follow::run(conn, config, out).await;
        }
        let folders = config.all_folders();
        let mut state = ReadState::for_run(&folders, out.previous_state());
        let (mut planned, mut remaining) = (0u64, 0u64);
        let mut left = u64::from(config.max_messages.get());
        for (index, folder) in folders.iter().enumerate() {
            let Some(max) = u32::try_from(left).ok().and_then(std::num::NonZeroU32::new) else {
                tracing::warn!(target: TARGET, not_read = ?&folders[index..], max_messages = config.max_messages.get(), "max_messages reached: these folders wait for the next run");
                break;
            };
            if out.is_stopped() {
                break;
            }
            let one = ReadConfig {
                max_messages: max,
                ..config.for_folder(folder)
            };
            let index =
                u16::try_from(index).map_err(|_| Error::config("/folders", "too many folders"))?;
            let done = pass(
                conn,
                &one,
                out,
                Scope {
                    index,
                    after: 0,
                    planned,
                    state,
                },
            )
            .await?;
            planned += done.planned;
            remaining += done.remaining;
            left = left.saturating_sub(done.planned);
            out.remaining(remaining);
            state = done.state;
        }
        Ok(())
    }

    async fn commit(
        &self,
        conn: &EmailConnection,
        config: &ReadConfig,
        acks: Vec<(u16, u32)>,
    ) -> Result<()> {
        if config.after_read == AfterRead::None || acks.is_empty() {
            return Ok(());
        }
        let folders = config.all_folders();
        let mut by_folder: std::collections::BTreeMap<u16, Vec<u32>> = Default::default();
        for (index, uid) in acks {
            by_folder.entry(index).or_default().push(uid);
        }
        for (index, mut uids) in by_folder {
            let folder = folders.get(usize::from(index)).ok_or_else(|| {
                Error::internal(format!(
                    "an acknowledgement names folder {index} of {}",
                    folders.len()
                ))
            })?;
            uids.sort_unstable();
            commit_in(conn, &config.for_folder(folder), &uids).await?;
        }
        Ok(())
    }

    async fn commit_state(
        &self,
        conn: &EmailConnection,
        config: &ReadConfig,
        state: &ReadState,
    ) -> Result<()> {
        if config.mode == ReadMode::Cursor || config.after_read == AfterRead::None {
            return Ok(());
        }
        for folder in config.all_folders() {
            if let Some(place) = state.place(folder).filter(|p| p.last_uid != 0) {
                commit_place(conn, &config.for_folder(folder), &place).await?;
            }
        }
        Ok(())
    }

    async fn discover(
        &self,
        conn: &EmailConnection,
        _config: Option<&ReadConfig>,
    ) -> Result<Vec<Object>> {
        let what = conn.imap()?.what();
        let mut session = conn.session().await?;
        let folders = crate::protocol::imap::list(&mut session, &what).await?;
        Ok(folders
            .into_iter()
            .map(|(name, attributes)| Object {
                name,
                description: None,
                attributes,
            })
            .collect())
    }
}
