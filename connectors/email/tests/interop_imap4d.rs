//! Read Email against GNU Mailutils' `imap4d` 3.15 (Debian's package), a server of
//! another family than Dovecot and without the extensions Read Email uses where it can:
//! no UIDPLUS, no MOVE, no CONDSTORE, no UTF8=ACCEPT (it has IDLE and LITERAL+). So the
//! fallbacks run for real: a move is a copy, a flag and a plain `EXPUNGE`; a delete
//! expunges only when nothing else is flagged. Each test starts its own server; the
//! scenarios are in `common/interop.rs`.

mod common;

use common::interop;
use email_testsupport::imap4d::Imap4d;

fn server() -> Imap4d {
    Imap4d::start().unwrap_or_else(|e| panic!("imap4d must start for this test: {e}"))
}

#[test]
fn read_then_mark_read() {
    interop::read_then_mark_read(&server());
}

#[test]
fn move_without_move_or_uidplus_copies_flags_and_expunges() {
    interop::move_to_another_folder(&server());
}

#[test]
fn delete_without_uidplus_expunges_when_nothing_else_is_flagged() {
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
fn following_finds_new_mail_though_the_servers_idle_says_nothing() {
    interop::follow_finds_new_mail(&server());
}

#[test]
fn flag_changes_without_condstore_is_a_config_error() {
    interop::flag_changes_refused(&server());
}
