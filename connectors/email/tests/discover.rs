//! `discover read` lists the folders with their special-use attributes.

mod common;

use common::{Fixture, code, run, stdout_json};

#[test]
fn folders_are_listed_with_special_use() {
    let fx = Fixture::new();
    common::servers()
        .create_folder(&fx.user, "Projects/Alpha")
        .expect("create");
    let out = run(&["discover", "read", "--connection", &fx.conn()]);
    assert_eq!(code(&out), 0, "{}", common::stderr(&out));
    let objects = stdout_json(&out)["objects"]
        .as_array()
        .expect("objects")
        .clone();
    let find = |name: &str| {
        objects
            .iter()
            .find(|o| o["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {objects:?}"))
            .clone()
    };
    assert!(
        find("Sent")["attributes"]
            .as_array()
            .expect("attrs")
            .contains(&"\\Sent".into())
    );
    assert!(
        find("Trash")["attributes"]
            .as_array()
            .expect("attrs")
            .contains(&"\\Trash".into())
    );
    find("INBOX");
    find("Projects/Alpha");
}

#[test]
fn send_has_no_discovery() {
    let fx = Fixture::new();
    let out = run(&["discover", "send", "--connection", &fx.conn()]);
    assert_eq!(code(&out), 2);
}
