//! Dependency order against the real engine: the dependents of an updated container
//! (`refit.depends-on`, Watchtower's `depends-on`, compose's `depends_on`) are stopped before
//! it, last first, and started after it, first first; a cycle fails only its members.

use chrono::{DateTime, FixedOffset};

use crate::support::{ImageSpec, TestEnv};

const ENABLE: &str = "refit.enable=true";

fn at(env: &TestEnv, name: &str, field: &str) -> DateTime<FixedOffset> {
    let value = env.inspect(name)["State"][field]
        .as_str()
        .unwrap()
        .to_string();
    DateTime::parse_from_rfc3339(&value).unwrap_or_else(|e| panic!("{name} {field} {value}: {e}"))
}

#[test]
fn dependents_are_stopped_before_and_started_after_their_dependency_in_order() {
    let env = TestEnv::new("order_depends_on");
    let db1 = env.build_image("db", "1", &ImageSpec::new().payload("db1"));
    let plain = env.build_image("plain", "1", &ImageSpec::new());
    let db = env.run("db", &["--label", ENABLE], &db1.reference);
    let web_label = format!("refit.depends-on={}", db.name);
    let web = env.run("web", &["--label", &web_label], &plain.reference);
    let worker_label = format!("com.centurylinklabs.watchtower.depends-on={}", web.name);
    let worker = env.run("worker", &["--label", &worker_label], &plain.reference);
    let web_started = at(&env, &web.name, "StartedAt");
    let db2 = env.push_new_version("db", "1", &ImageSpec::new().payload("db2"));

    let run = env.refit(&["update", "--json"]);
    run.assert_code(0);
    assert_eq!(run.container(&db.name)["outcome"], "updated", "{run}");
    assert_eq!(env.inspect(&db.name)["Image"], db2.id.as_str());
    for name in [&web.name, &worker.name] {
        assert_eq!(env.inspect(name)["State"]["Running"], true, "{name}\n{run}");
    }
    assert!(
        at(&env, &web.name, "StartedAt") > web_started,
        "web was restarted"
    );
    assert!(
        at(&env, &worker.name, "FinishedAt") <= at(&env, &web.name, "FinishedAt"),
        "the worker (which needs web) stopped first"
    );
    let db_started = at(&env, &db.name, "StartedAt");
    let web_started = at(&env, &web.name, "StartedAt");
    assert!(db_started < web_started, "web started after the new db");
    assert!(
        web_started <= at(&env, &worker.name, "StartedAt"),
        "the worker started after web"
    );
}

#[test]
fn compose_depends_on_names_a_service_of_the_same_project() {
    let env = TestEnv::new("order_compose");
    let project = env.prefix().to_string();
    let db1 = env.build_image("db", "1", &ImageSpec::new().payload("db1"));
    let plain = env.build_image("plain", "1", &ImageSpec::new());
    let project_label = format!("com.docker.compose.project={project}");
    let db = env.run(
        "db",
        &[
            "--label",
            ENABLE,
            "--label",
            &project_label,
            "--label",
            "com.docker.compose.service=db",
        ],
        &db1.reference,
    );
    let app = env.run(
        "app",
        &[
            "--label",
            &project_label,
            "--label",
            "com.docker.compose.service=app",
            "--label",
            "com.docker.compose.depends_on=db:service_started:false",
        ],
        &plain.reference,
    );
    let other = env.run(
        "other",
        &[
            "--label",
            "com.docker.compose.project=elsewhere",
            "--label",
            "com.docker.compose.depends_on=db:service_started:false",
        ],
        &plain.reference,
    );
    let app_started = at(&env, &app.name, "StartedAt");
    let other_started = at(&env, &other.name, "StartedAt");
    env.push_new_version("db", "1", &ImageSpec::new().payload("db2"));

    let run = env.refit(&["update", "--json"]);
    run.assert_code(0);
    assert_eq!(run.container(&db.name)["outcome"], "updated", "{run}");
    let restarted = at(&env, &app.name, "StartedAt");
    assert!(restarted > app_started, "app restarted\n{run}");
    assert!(
        restarted > at(&env, &db.name, "StartedAt"),
        "after the new db"
    );
    assert_eq!(
        at(&env, &other.name, "StartedAt"),
        other_started,
        "another project's db is not this one"
    );
}

#[test]
fn a_cycle_fails_its_members_and_the_rest_is_updated() {
    let env = TestEnv::new("order_cycle");
    let a1 = env.build_image("app", "1", &ImageSpec::new().payload("a1"));
    let (a_name, b_name) = (env.name("a"), env.name("b"));
    let a = env.run(
        "a",
        &[
            "--label",
            ENABLE,
            "--label",
            &format!("refit.depends-on={b_name}"),
        ],
        &a1.reference,
    );
    let b = env.run(
        "b",
        &[
            "--label",
            ENABLE,
            "--label",
            &format!("refit.depends-on={a_name}"),
        ],
        &a1.reference,
    );
    let c = env.run("c", &["--label", ENABLE], &a1.reference);
    env.push_new_version("app", "1", &ImageSpec::new().payload("a2"));

    let run = env.refit(&["update", "--json"]);
    run.assert_code(1);
    for member in [&a, &b] {
        let line = run.container(&member.name);
        assert_eq!(line["outcome"], "failed", "{run}");
        assert_eq!(
            line["reason"],
            format!("dependency cycle between {a_name}, {b_name}")
        );
        assert_eq!(env.inspect(&member.name)["Id"], member.id.as_str());
    }
    assert_eq!(run.container(&c.name)["outcome"], "updated", "{run}");
}
