//! Read Email against Cyrus IMAP 3.6 (Debian's package), a full server of another
//! family than Dovecot: UIDPLUS, MOVE, CONDSTORE, QRESYNC, IDLE, LITERAL+, SPECIAL-USE.
//! Read and mark, move (`UID MOVE`), delete (`UID EXPUNGE`), a folder named `Grüße`,
//! 8-bit search text and follow (IDLE) are checked on the server. Each test starts its
//! own server; the scenarios are in `common/interop.rs`.

mod common;

use common::interop;
use email_testsupport::cyrus::Cyrus;

fn server() -> Cyrus {
    Cyrus::start().unwrap_or_else(|e| panic!("Cyrus must start for this test: {e}"))
}

#[test]
fn read_then_mark_read() {
    interop::read_then_mark_read(&server());
}

#[test]
fn move_uses_uid_move() {
    interop::move_to_another_folder(&server());
}

#[test]
fn delete_uses_uid_expunge() {
    interop::delete_what_was_read(&server());
}

#[test]
fn a_non_ascii_folder_is_listed_and_read_by_its_unicode_name() {
    interop::non_ascii_folder(&server());
}

#[test]
fn non_ascii_search_text_goes_as_a_literal_plus() {
    interop::eight_bit_search(&server());
}

#[test]
fn following_finds_new_mail() {
    interop::follow_finds_new_mail(&server());
}

#[test]
fn flag_changes_and_expunges_come_by_mod_sequence() {
    interop::flag_changes_found(&server(), true);
}
