//! `[[trust.signatures]]`: rules load with their key files, mistakes point at the value, and
//! `refit config` prints the rules so that they parse back.

use std::fs;

use tempfile::TempDir;

use super::*;
use crate::trust::tests::TEST_PUBLIC_KEY;

fn with_key(dir: &TempDir) -> String {
    let key = dir.path().join("cosign.pub");
    fs::write(&key, TEST_PUBLIC_KEY).unwrap();
    key.display().to_string()
}

#[test]
fn rules_load_in_order_with_their_keys() {
    let dir = TempDir::new().unwrap();
    let key = with_key(&dir);
    let config = parse(&format!(
        "[trust]\nallowed_registries = [\"ghcr.io\"]\n\n\
         [[trust.signatures]]\nmatch = \"ghcr.io/acme/*\"\npublic_key = \"{key}\"\n\n\
         [[trust.signatures]]\nmatch = \"*\"\npublic_key = \"{key}\"\n"
    ));
    let rules = &config.trust.signatures;
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].pattern, "ghcr.io/acme/*");
    assert_eq!(rules[0].key.path.display().to_string(), key);
    assert_eq!(rules[0].key.pem, TEST_PUBLIC_KEY);
    assert_eq!(rules[1].pattern, "*");

    let printed = config.to_toml_redacted();
    assert!(
        printed.contains("[[trust.signatures]]\nmatch = \"ghcr.io/acme/*\""),
        "{printed}"
    );
    assert!(!printed.contains("BEGIN PUBLIC KEY"), "{printed}");
    let again = parse(&printed);
    assert_eq!(again.trust, config.trust);
}

#[test]
fn key_paths_are_relative_to_the_file() {
    let dir = TempDir::new().unwrap();
    with_key(&dir);
    let file = dir.path().join("refit.toml");
    fs::write(
        &file,
        "[[trust.signatures]]\nmatch = \"*\"\npublic_key = \"cosign.pub\"\n",
    )
    .unwrap();
    let config = Config::load(Some(&file), &no_env, &Overrides::default()).unwrap();
    assert_eq!(
        config.trust.signatures[0].key.path,
        dir.path().join("cosign.pub")
    );
}

#[test]
fn mistakes_name_file_line_and_column() {
    let dir = TempDir::new().unwrap();
    let key = with_key(&dir);
    let missing = dir.path().join("none.pub").display().to_string();
    let bad = dir.path().join("bad.pub");
    fs::write(
        &bad,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let bad = bad.display().to_string();
    let cases = [
        (
            format!("[[trust.signatures]]\nmatch = \"\"\npublic_key = \"{key}\"\n"),
            "/etc/refit/refit.toml:2:9: match must be a glob",
        ),
        (
            format!("[[trust.signatures]]\nmatch = \"*\"\npublic_key = \"{missing}\"\n"),
            "/etc/refit/refit.toml:3:14: cannot read public key",
        ),
        (
            format!("[[trust.signatures]]\nmatch = \"*\"\npublic_key = \"{bad}\"\n"),
            "/etc/refit/refit.toml:3:14:",
        ),
        (
            "[[trust.signatures]]\nmatch = \"*\"\n".to_string(),
            "/etc/refit/refit.toml:1:1: missing field `public_key`",
        ),
        (
            format!("[[trust.signatures]]\nmatch = \"*\"\npublic_key = \"{key}\"\nkey = 1\n"),
            "/etc/refit/refit.toml:4:1: unknown field `key`",
        ),
    ];
    for (text, expected) in &cases {
        let error = file_error(text);
        assert!(error.starts_with(expected), "{error}\nexpected: {expected}");
    }
    assert!(file_error(&cases[2].0).contains("is not a public key refit can verify with"));
}
