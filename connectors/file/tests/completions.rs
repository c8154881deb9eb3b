//! `completions SHELL` prints a completion script for the program's own name, with its
//! subcommands and options.

mod common;

use common::{code, run};

#[test]
fn completion_scripts_name_the_program_and_its_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert_eq!(
            code(&out),
            0,
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains("file-connector"), "{shell}: {script}");
        for word in ["validate", "discover", "deadline", "progress-every"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    let out = run(&["completions", "tcsh"]);
    assert_eq!(code(&out), 2, "an unknown shell is a usage error");
}
