//! Macro errors point at the user's tokens with a helpful message. Each case is one
//! file under `tests/ui/<macro>/` with its exact expected `.stderr`.

#[test]
fn macro_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*/*.rs");
}
