//! Folder names in Unicode: the settings, records and `discover` say `Grüße`; the wire
//! says `Gr&APwA3w-e` (modified UTF-7, RFC 3501 section 5.1.3). Before, `discover`
//! showed the encoded name and `SELECT` sent raw UTF-8, which Cyrus and Courier refuse.

mod common;

use common::{Fixture, code, records, run, servers, stderr, stdout_json};
use serde_json::json;

#[test]
fn non_ascii_folders_are_listed_read_and_moved_to_by_their_unicode_names() {
    let fx = Fixture::new();
    for folder in ["Grüße", "Erledigt & Archiv/Ü"] {
        servers().create_folder(&fx.user, folder).expect("create");
    }
    servers()
        .deliver(
            &fx.user,
            "Grüße",
            common::raw_message("gruss@example.test", "Grüße", "a@example.test").as_bytes(),
        )
        .expect("deliver");

    let conn = fx.conn();
    let out = run(&["discover", "read", "--connection", &conn]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let names: Vec<String> = stdout_json(&out)["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| o["name"].as_str().map(str::to_owned))
        .collect();
    assert!(names.iter().any(|n| n == "Grüße"), "{names:?}");
    assert!(
        names.iter().any(|n| n == "Erledigt & Archiv/Ü"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("&AP")),
        "encoded names shown: {names:?}"
    );

    let out = fx.read(json!({"folder": "Grüße", "after_read": {"move_to": "Erledigt & Archiv/Ü"}}));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let read = records(&out);
    assert_eq!(read.len(), 1);
    assert_eq!(read[0]["folder"], "Grüße");
    assert_eq!(read[0]["subject"], "Grüße");
    assert!(fx.stored("Grüße").is_empty(), "moved away");
    assert_eq!(fx.stored("Erledigt & Archiv/Ü").len(), 1);
}
