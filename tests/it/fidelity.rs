//! Configuration fidelity (SPEC section 2) through the real binary: a container `refit update`
//! replaced must be the old one on a new image. Each test runs containers with the docker CLI,
//! publishes a new digest, runs refit and compares `docker inspect` before and after: what the
//! operator set is kept field by field, what came from the old image follows the new one, and
//! runtime state (ids, endpoints, generated MACs, the default hostname) is left to the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{TcpListener, UdpSocket};
use std::path::Path;

use serde_json::{Value, json};

use crate::support::{Healthcheck, ImageSpec, RefitRun, TestEnv, docker, docker_ok};

const ENABLE: &str = "refit.enable=true";
const PARKED_SUFFIX: &str = ".refit-old";
/// A command that exits at once on every stop signal these tests use.
const TRAP: &str = "trap 'exit 0' TERM INT USR1; sleep 3600 & wait";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `refit update --json`, asserting exit code 0 and that each of `names` was updated.
fn update(env: &TestEnv, names: &[&str]) -> RefitRun {
    let run = env.refit(&["update", "--json"]);
    run.assert_code(0);
    for name in names {
        assert_eq!(
            run.container(name)["outcome"],
            "updated",
            "{name} was not updated\n{run}"
        );
    }
    run
}

/// The update replaced the container: same name, new id, the new image, nothing left parked.
fn assert_replaced(env: &TestEnv, before: &Value, after: &Value, image_id: &str) {
    let name = before["Name"].as_str().unwrap().trim_start_matches('/');
    assert_ne!(after["Id"], before["Id"], "{name}: no new container");
    assert_eq!(after["Name"], before["Name"], "{name}: the name changed");
    assert_eq!(
        after["Image"], image_id,
        "{name}: the successor does not run the new image"
    );
    assert!(
        !env.container_exists(&format!("{name}{PARKED_SUFFIX}")),
        "{name}{PARKED_SUFFIX} was left behind"
    );
}

/// A JSON pointer segment: `~` → `~0`, `/` → `~1`.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Whether `pointer` matches `pattern`, where a `*` segment matches any one segment.
fn pointer_matches(pattern: &str, pointer: &str) -> bool {
    let (p, q): (Vec<&str>, Vec<&str>) =
        (pattern.split('/').collect(), pointer.split('/').collect());
    p.len() == q.len() && p.iter().zip(&q).all(|(p, q)| *p == "*" || p == q)
}

/// Walks `before` and `after` together (objects key by key, a missing key as null; anything else
/// compared whole) and lists every pointer where they differ, but for those `skip` matches.
fn diff(before: &Value, after: &Value, pointer: &str, skip: &[&str], out: &mut Vec<String>) {
    if skip.iter().any(|p| pointer_matches(p, pointer)) {
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for key in keys {
                let child = format!("{pointer}/{}", escape(key));
                let null = Value::Null;
                diff(
                    b.get(key).unwrap_or(&null),
                    a.get(key).unwrap_or(&null),
                    &child,
                    skip,
                    out,
                );
            }
        }
        _ if before == after => {}
        // An unset map reads `null` or `{}` depending on the API call that made the endpoint
        // (`docker network connect` gives `DriverOpts: {}`, create gives `null`).
        (Value::Object(o), Value::Null) | (Value::Null, Value::Object(o)) if o.is_empty() => {}
        _ => out.push(format!("{pointer}: before {before}, after {after}")),
    }
}

/// Whether an inspect value shows that a flag took effect (not null, empty, zero or false).
fn is_set(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        // Present is set: `ExposedPorts` and `Volumes` map each key to `{}`.
        Value::Object(_) => true,
    }
}

/// Runtime state and per-container files that differ between any container and its successor.
const RUNTIME: &[(&str, &str)] = &[
    ("/Id", "a new container has a new id (checked: it differs)"),
    ("/Created", "a new container has a new creation time"),
    (
        "/State",
        "runtime state (checked separately: running, or not)",
    ),
    ("/Image", "the new image (checked: the pushed image's id)"),
    (
        "/ResolvConfPath",
        "a file in the new container's own directory",
    ),
    (
        "/HostnamePath",
        "a file in the new container's own directory",
    ),
    ("/HostsPath", "a file in the new container's own directory"),
    ("/LogPath", "a file in the new container's own directory"),
    ("/RestartCount", "a runtime counter"),
    ("/GraphDriver", "the new container's own writable layer"),
    (
        "/ExecIDs",
        "the test's docker exec calls ran in the old container",
    ),
    ("/NetworkSettings/SandboxID", "a new network namespace"),
    ("/NetworkSettings/SandboxKey", "a new network namespace"),
    (
        "/NetworkSettings/Networks/*/EndpointID",
        "a new endpoint on each network",
    ),
    (
        "/NetworkSettings/Networks/*/MacAddress",
        "generated by Docker for each endpoint (none was set)",
    ),
    (
        "/NetworkSettings/Networks/*/Aliases",
        "API 1.41 lists the container's own short id among them (checked without it)",
    ),
    (
        "/NetworkSettings/MacAddress",
        "generated by Docker (the default network's endpoint)",
    ),
    (
        "/NetworkSettings/EndpointID",
        "the default network's endpoint, new",
    ),
];

/// Compares the whole `docker inspect` before and after the update: every pointer must be equal
/// but for `RUNTIME` and `extra` (each with its reason). `operator` lists what the operator set:
/// (pointer, flag); each must be set before the update, or the engine ignored the flag and the
/// test would prove nothing. Panics listing every difference at once.
fn assert_same_config(
    name: &str,
    before: &Value,
    after: &Value,
    operator: &[(String, &str)],
    extra: &[(String, &str)],
) {
    let mut problems = Vec::new();
    for (pointer, flag) in operator {
        let value = before.pointer(pointer).unwrap_or(&Value::Null);
        if !is_set(value) {
            problems.push(format!(
                "{pointer} ({flag}) is {value} before the update: the flag did not take effect"
            ));
        }
    }
    let skip: Vec<&str> = RUNTIME
        .iter()
        .map(|(p, _)| *p)
        .chain(extra.iter().map(|(p, _)| p.as_str()))
        .collect();
    let mut differences = Vec::new();
    diff(before, after, "", &skip, &mut differences);
    for difference in differences {
        let flag = operator
            .iter()
            .find(|(p, _)| difference.starts_with(&format!("{p}:")))
            .map_or(
                "not set by the test: an engine default or derived value".to_owned(),
                |(_, f)| format!("set by {f}"),
            );
        problems.push(format!("{difference}\n      ({flag})"));
    }
    assert!(
        problems.is_empty(),
        "{name}: the successor's configuration differs from its predecessor's:\n  - {}",
        problems.join("\n  - ")
    );
}

/// `Mounts` keyed by destination, without `Mode` (see the caller).
fn mounts(inspect: &Value) -> BTreeMap<String, Value> {
    inspect["Mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let mut m = m.clone();
            m.as_object_mut().unwrap().remove("Mode");
            (m["Destination"].as_str().unwrap().to_owned(), m)
        })
        .collect()
}

/// The name of the volume mounted at `destination`.
fn volume_at(inspect: &Value, destination: &str) -> String {
    inspect["Mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["Destination"] == destination && m["Type"] == "volume")
        .and_then(|m| m["Name"].as_str())
        .unwrap_or_else(|| panic!("no volume at {destination}: {}", inspect["Mounts"]))
        .to_owned()
}

/// Aliases on each network, without the container's own short id (which Docker adds).
fn aliases(inspect: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let short = &inspect["Id"].as_str().unwrap()[..12];
    inspect["NetworkSettings"]["Networks"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(network, endpoint)| {
            let aliases = endpoint["Aliases"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|a| *a != short)
                .map(str::to_owned)
                .collect();
            (network.clone(), aliases)
        })
        .collect()
}

fn sorted_strings(value: &Value) -> Vec<String> {
    let mut all: Vec<String> = value
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    all.sort();
    all
}

/// A free port on 127.0.0.1 (TCP or UDP), for a `-p` binding.
fn free_port(udp: bool) -> u16 {
    if udp {
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    } else {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}

/// The first whole-disk block device, for the blkio throttle flags (`--blkio-weight` is
/// discarded by kernels without the weight controller, the throttles are not).
fn block_device() -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("loop") && !n.starts_with("ram") && !n.starts_with("zram"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| format!("/dev/{n}"))
        .find(|p| Path::new(p).exists())
}

/// A user network with its own subnets, for static addresses.
struct SubnetNetwork {
    name: String,
    /// The first three octets of its IPv4 /24: `10.a.b`.
    v4: String,
    /// The first 48 bits of its IPv6 /64 (with `ipv6`): `fd00:a:b`.
    v6: String,
}

/// Creates `<prefix>-<suffix>` with a 10.a.b.0/24 (and fd00:a:b::/64 with `ipv6`) derived from
/// the env's random prefix; on an overlap with a network of another test, tries the next one.
fn subnet_network(env: &TestEnv, suffix: &str, ipv6: bool) -> SubnetNetwork {
    let prefix = env.prefix();
    let random = u32::from_str_radix(&prefix[prefix.len() - 6..], 16).unwrap_or(0);
    let salt: u32 = suffix.bytes().map(u32::from).sum();
    let name = env.name(suffix);
    let label = env.label_arg();
    let mut last = String::new();
    for attempt in 0..20u32 {
        let n = random
            .wrapping_add(salt.wrapping_mul(977))
            .wrapping_add(attempt * 131);
        let (a, b) = (200 + n % 50, (n >> 6) % 256);
        let v4 = format!("10.{a}.{b}");
        let v6 = format!("fd00:{a:x}:{b:x}");
        let subnet4 = format!("--subnet={v4}.0/24");
        let subnet6 = format!("--subnet={v6}::/64");
        let mut args = vec!["network", "create", "--label", &label, &subnet4];
        if ipv6 {
            args.extend(["--ipv6", &subnet6]);
        }
        args.push(&name);
        let output = docker(&args);
        if output.status.success() {
            return SubnetNetwork { name, v4, v6 };
        }
        last = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            last.contains("overlap"),
            "docker {} failed:\n{last}",
            args.join(" ")
        );
    }
    panic!("no free subnet for {name} after 20 tries:\n{last}");
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// One container with every operator-set field Docker 20.10 here accepts, plus two with the
/// settings that exclude others (UTS host, network none, auto-remove, host network): after the
/// update, `docker inspect` is the same but for runtime state.
///
/// Flags left out, as this engine refuses or ignores them: `--privileged` (runc cannot apply
/// the capabilities in this sandbox), `--blkio-weight`/`--blkio-weight-device` (no weight
/// controller: "Weight discarded", the field stays 0), `--gpus` (no GPU driver), `--storage-opt
/// size` (overlay2 without quota), `--kernel-memory` (deprecated), `--mac-address` (the docker
/// CLI needs API 1.44 for it: `an_operator_set_mac_address_survives` sets it through the API).
#[test]
fn every_operator_set_field_survives_an_update() {
    let env = TestEnv::new("every_operator_set_field_survives");
    let spec = ImageSpec::new()
        .env("IMAGE_VAR", "1")
        .label("image.label", "1");
    let v1 = env.build_image("app", "1", &spec);
    let net1 = subnet_network(&env, "net1", false);
    let net2 = subnet_network(&env, "net2", true);
    let named = env.create_volume("named");
    let host_dir = env.dir().join("bind");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("hello"), "from the host\n").unwrap();
    let host_dir = host_dir.to_str().unwrap();

    let db = env.run(
        "db",
        &["--network", &net1.name, "--network-alias", "db-alias"],
        &v1.reference,
    );
    let probe = env.run("probe", &["--network", &net2.name], &v1.reference);
    let (tcp, udp) = (free_port(false), free_port(true));
    let ip4 = format!("{}.50", net1.v4);
    let ip6 = format!("{}::50", net2.v6);
    let device = block_device();
    let mut args: Vec<String> = [
        "--label",
        ENABLE,
        "--label",
        "com.docker.compose.project=fidelity",
        "--label",
        "com.docker.compose.service=web",
        "--label",
        &format!("com.docker.compose.image={}", v1.id),
        "--label",
        "operator.note=kept as set",
        "-e",
        "OP_VAR=operator",
        "-e",
        "SPACED=a b=c",
        "--entrypoint",
        "sh",
        "--user",
        "app",
        "-w",
        "/work",
        "--hostname",
        "web-host",
        "--domainname",
        "example.test",
        "--expose",
        "9000",
        "-p",
        &format!("127.0.0.1:{tcp}:8080"),
        "-p",
        &format!("127.0.0.1:{udp}:5353/udp"),
        "-v",
        &format!("{host_dir}:/host:ro"),
        "-v",
        &format!("{named}:/named"),
        "-v",
        "/anon",
        "--mount",
        "type=volume,dst=/m2",
        "--mount",
        &format!("type=bind,src={host_dir},dst=/host-mount,readonly"),
        "--mount",
        "type=tmpfs,dst=/tm2,tmpfs-size=1048576",
        "--tmpfs",
        "/scratch:size=1m,mode=1777",
        "--network",
        &net1.name,
        "--network-alias",
        "web-alias",
        "--ip",
        &ip4,
        "--link",
        &format!("{}:dblink", db.name),
        "--restart",
        "unless-stopped",
        "--health-cmd",
        "test -d /work",
        "--health-interval",
        "1s",
        "--health-timeout",
        "2s",
        "--health-retries",
        "2",
        "--health-start-period",
        "1s",
        "--log-driver",
        "json-file",
        "--log-opt",
        "max-size=1m",
        "--log-opt",
        "max-file=2",
        "--memory",
        "64m",
        "--memory-reservation",
        "32m",
        "--memory-swap",
        "128m",
        "--memory-swappiness",
        "10",
        "--oom-kill-disable",
        "--oom-score-adj",
        "100",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "--pids-limit",
        "100",
        "--ulimit",
        "nofile=1024:2048",
        "--device",
        "/dev/zero:/dev/myzero:rwm",
        "--device-cgroup-rule",
        "c 1:3 mr",
        "--cap-add",
        "NET_ADMIN",
        "--cap-drop",
        "MKNOD",
        "--security-opt",
        "no-new-privileges",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--sysctl",
        "net.core.somaxconn=512",
        "--ipc",
        "shareable",
        "--pid",
        &format!("container:{}", db.name),
        "--cgroupns",
        "private",
        "--userns",
        "host",
        "--init",
        "--shm-size",
        "32m",
        "--runtime",
        "runc",
        "--volume-driver",
        "local",
        "--add-host",
        "foo.example:10.1.2.3",
        "--dns",
        "10.9.9.9",
        "--dns-search",
        "example.test",
        "--dns-option",
        "ndots:2",
        "--group-add",
        "1234",
        "--stop-signal",
        "SIGUSR1",
        "--stop-timeout",
        "3",
        "-t",
        "-i",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if let Some(device) = &device {
        args.extend([
            "--device-read-bps".to_owned(),
            format!("{device}:1mb"),
            "--device-write-iops".to_owned(),
            format!("{device}:1000"),
        ]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let web = env.run_cmd("web", &args, &v1.reference, &["-c", TRAP]);
    docker_ok(&[
        "network", "connect", "--alias", "web-x2", "--alias", "web-x3", "--ip6", &ip6, &net2.name,
        &web.name,
    ]);
    // Settings that exclude some of the above: UTS host (no --hostname), network none, a
    // read-only root, on-failure with a count; auto-remove (no restart policy) on host network.
    let aux = env.run(
        "aux",
        &[
            "--label",
            ENABLE,
            "--restart",
            "on-failure:3",
            "--network",
            "none",
            "--uts",
            "host",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--ipc",
            "private",
            "--cgroupns",
            "host",
        ],
        &v1.reference,
    );
    let hostnet = env.run(
        "hostnet",
        &["--label", ENABLE, "--rm", "--network", "host"],
        &v1.reference,
    );
    // As root: the anonymous volume is root's, the container's user is `app`.
    docker_ok(&[
        "exec",
        "-u",
        "0",
        &web.name,
        "sh",
        "-c",
        "echo kept > /anon/file",
    ]);

    let before = env.inspect(&web.name);
    let aux_before = env.inspect(&aux.name);
    let hostnet_before = env.inspect(&hostnet.name);
    // Names resolve to the right container through the engine's DNS. busybox's own resolver
    // (nslookup) is used: the static busybox's wget and ping go through glibc's NSS and fail.
    let resolves = |from: &str, name: &str, target: &str, network: &str| {
        let want = env.inspect(target)["NetworkSettings"]["Networks"][network]["IPAddress"]
            .as_str()
            .unwrap()
            .to_owned();
        // Fully qualified: web's `--dns-search` and `ndots:2` would try `name.example.test` only.
        let out = docker(&["exec", from, "nslookup", &format!("{name}.")]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.lines()
                .any(|l| l.starts_with("Address:") && l.ends_with(&want)),
            "{from}: {name} should resolve to {target}'s {want}:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let check_names = || {
        resolves(&web.name, "dblink", &db.name, &net1.name);
        resolves(&db.name, "web-alias", &web.name, &net1.name);
        resolves(&probe.name, "web-x2", &web.name, &net2.name);
        resolves(&probe.name, "web-x3", &web.name, &net2.name);
    };
    check_names();
    let v2 = env.push_new_version("app", "1", &spec);
    update(&env, &[&web.name, &aux.name, &hostnet.name]);
    let after = env.inspect(&web.name);
    let aux_after = env.inspect(&aux.name);
    let hostnet_after = env.inspect(&hostnet.name);

    for (before, after) in [
        (&before, &after),
        (&aux_before, &aux_after),
        (&hostnet_before, &hostnet_after),
    ] {
        assert_replaced(&env, before, after, &v2.id);
        assert_eq!(after["State"]["Running"], true, "{}", after["Name"]);
    }

    // What the operator set on web, and the flag that set it.
    let n1 = format!("/NetworkSettings/Networks/{}", net1.name);
    let n2 = format!("/NetworkSettings/Networks/{}", net2.name);
    let mut operator: Vec<(String, &str)> = [
        ("/Name", "--name"),
        ("/Path", "--entrypoint sh (its first word)"),
        ("/Args", "--entrypoint and the command"),
        ("/Config/Env", "-e OP_VAR=operator -e 'SPACED=a b=c'"),
        ("/Config/Entrypoint", "--entrypoint sh"),
        ("/Config/Cmd", "the command after the image"),
        ("/Config/Image", "the image reference on the command line"),
        ("/Config/Labels/refit.enable", "--label refit.enable=true"),
        ("/Config/Labels/operator.note", "--label operator.note=..."),
        (
            "/Config/Labels/com.docker.compose.project",
            "--label com.docker.compose.project=...",
        ),
        (
            "/Config/Labels/com.docker.compose.service",
            "--label com.docker.compose.service=...",
        ),
        ("/Config/User", "--user app"),
        ("/Config/WorkingDir", "-w /work"),
        ("/Config/Hostname", "--hostname web-host"),
        ("/Config/Domainname", "--domainname example.test"),
        ("/Config/ExposedPorts/9000~1tcp", "--expose 9000"),
        ("/Config/ExposedPorts/8080~1tcp", "-p ...:8080 (exposes it)"),
        (
            "/Config/ExposedPorts/5353~1udp",
            "-p ...:5353/udp (exposes it)",
        ),
        ("/Config/Volumes/~1anon", "-v /anon"),
        (
            "/Config/Healthcheck",
            "--health-cmd/-interval/-timeout/-retries/-start-period",
        ),
        ("/Config/StopSignal", "--stop-signal SIGUSR1"),
        ("/Config/StopTimeout", "--stop-timeout 3"),
        ("/Config/Tty", "-t"),
        ("/Config/OpenStdin", "-i"),
        (
            "/HostConfig/PortBindings",
            "-p 127.0.0.1:PORT:8080 -p 127.0.0.1:PORT:5353/udp",
        ),
        (
            "/NetworkSettings/Ports",
            "-p (the engine's runtime view of the bindings)",
        ),
        ("/HostConfig/Tmpfs", "--tmpfs /scratch:size=1m,mode=1777"),
        ("/HostConfig/NetworkMode", "--network NET1"),
        ("/HostConfig/RestartPolicy", "--restart unless-stopped"),
        (
            "/HostConfig/LogConfig",
            "--log-driver json-file --log-opt ...",
        ),
        ("/HostConfig/Memory", "--memory 64m"),
        ("/HostConfig/MemoryReservation", "--memory-reservation 32m"),
        ("/HostConfig/MemorySwap", "--memory-swap 128m"),
        ("/HostConfig/MemorySwappiness", "--memory-swappiness 10"),
        ("/HostConfig/OomKillDisable", "--oom-kill-disable"),
        ("/HostConfig/OomScoreAdj", "--oom-score-adj 100"),
        ("/HostConfig/NanoCpus", "--cpus 0.5"),
        ("/HostConfig/CpuShares", "--cpu-shares 512"),
        ("/HostConfig/CpusetCpus", "--cpuset-cpus 0"),
        ("/HostConfig/PidsLimit", "--pids-limit 100"),
        ("/HostConfig/Ulimits", "--ulimit nofile=1024:2048"),
        ("/HostConfig/Devices", "--device /dev/zero:/dev/myzero:rwm"),
        (
            "/HostConfig/DeviceCgroupRules",
            "--device-cgroup-rule 'c 1:3 mr'",
        ),
        ("/HostConfig/CapAdd", "--cap-add NET_ADMIN"),
        ("/HostConfig/CapDrop", "--cap-drop MKNOD"),
        (
            "/HostConfig/SecurityOpt",
            "--security-opt no-new-privileges",
        ),
        (
            "/HostConfig/Sysctls",
            "--sysctl net.ipv4.ip_forward=1 --sysctl net.core.somaxconn=512",
        ),
        ("/HostConfig/IpcMode", "--ipc shareable"),
        ("/HostConfig/PidMode", "--pid container:DB"),
        ("/HostConfig/CgroupnsMode", "--cgroupns private"),
        ("/HostConfig/UsernsMode", "--userns host"),
        ("/HostConfig/Init", "--init"),
        ("/HostConfig/ShmSize", "--shm-size 32m"),
        ("/HostConfig/Runtime", "--runtime runc"),
        ("/HostConfig/VolumeDriver", "--volume-driver local"),
        ("/HostConfig/ExtraHosts", "--add-host foo.example:10.1.2.3"),
        ("/HostConfig/Dns", "--dns 10.9.9.9"),
        ("/HostConfig/DnsSearch", "--dns-search example.test"),
        ("/HostConfig/DnsOptions", "--dns-option ndots:2"),
        ("/HostConfig/GroupAdd", "--group-add 1234"),
    ]
    .iter()
    .map(|(p, f)| ((*p).to_owned(), *f))
    .collect();
    operator.extend([
        (format!("{n1}/IPAMConfig"), "--ip on NET1"),
        (format!("{n1}/IPAddress"), "--ip on NET1"),
        (format!("{n1}/Links"), "--link DB:dblink"),
        (
            format!("{n2}/IPAMConfig"),
            "docker network connect --ip6 on NET2",
        ),
        (
            format!("{n2}/GlobalIPv6Address"),
            "docker network connect --ip6 on NET2",
        ),
    ]);
    if device.is_some() {
        operator.extend([
            (
                "/HostConfig/BlkioDeviceReadBps".to_owned(),
                "--device-read-bps DEV:1mb",
            ),
            (
                "/HostConfig/BlkioDeviceWriteIOps".to_owned(),
                "--device-write-iops DEV:1000",
            ),
        ]);
    }
    let extra: Vec<(String, &str)> = vec![
        (
            "/Config/Labels/com.docker.compose.image".to_owned(),
            "compose's label names the new image id (checked below)",
        ),
        (
            "/HostConfig/Binds".to_owned(),
            "refit adds the anonymous volumes, pinned by name (checked below)",
        ),
        (
            "/HostConfig/Mounts".to_owned(),
            "refit names the volume of the anonymous volume mount (checked below)",
        ),
        (
            "/Mounts".to_owned(),
            "an array: compared by destination below",
        ),
        (
            format!("{n2}/IPAddress"),
            "NET2's IPv4 address was dynamic: any free one will do",
        ),
        (
            format!("{n2}/IPPrefixLen"),
            "goes with the dynamic IPv4 address",
        ),
        (
            format!("{n2}/Gateway"),
            "goes with the dynamic IPv4 address",
        ),
    ];
    assert_same_config(&web.name, &before, &after, &operator, &extra);
    // aux shares the host's UTS namespace: its Config.Hostname is the engine's default (the
    // short id), which must not be pinned, so it becomes the successor's short id.
    let default_hostname = [(
        "/Config/Hostname".to_owned(),
        "the default hostname is the container's short id (checked below)",
    )];
    assert_same_config(&aux.name, &aux_before, &aux_after, &[], &default_hostname);
    let aux_id = aux_after["Id"].as_str().unwrap();
    assert_eq!(aux_after["Config"]["Hostname"], &aux_id[..12]);
    assert_same_config(&hostnet.name, &hostnet_before, &hostnet_after, &[], &[]);

    assert_eq!(
        after["Config"]["Labels"]["com.docker.compose.image"], v2.id,
        "com.docker.compose.image must name the new image, or compose recreates the container"
    );
    let anon = volume_at(&before, "/anon");
    let m2 = volume_at(&before, "/m2");
    let mut expected_binds = sorted_strings(&before["HostConfig"]["Binds"]);
    expected_binds.push(format!("{anon}:/anon"));
    expected_binds.sort();
    assert_eq!(
        sorted_strings(&after["HostConfig"]["Binds"]),
        expected_binds,
        "HostConfig.Binds: the operator's binds plus the anonymous volume /anon by name"
    );
    let mut expected_mounts = before["HostConfig"]["Mounts"].clone();
    for mount in expected_mounts.as_array_mut().unwrap() {
        if mount["Target"] == "/m2" {
            mount["Source"] = json!(m2);
        }
    }
    assert_eq!(
        after["HostConfig"]["Mounts"], expected_mounts,
        "HostConfig.Mounts: the operator's mounts, the anonymous volume one with its name"
    );
    // `Mode` is left out: an anonymous volume pinned as a bind may show another mode string.
    assert_eq!(
        mounts(&after),
        mounts(&before),
        "the same volumes, binds and tmpfs at the same places (same volume names)"
    );
    assert_eq!(
        aliases(&after),
        aliases(&before),
        "the aliases on each network (Docker's short-id alias aside)"
    );
    assert_eq!(
        after["NetworkSettings"]["Networks"][&net1.name]["IPAddress"],
        ip4.as_str()
    );
    assert_eq!(
        after["NetworkSettings"]["Networks"][&net2.name]["GlobalIPv6Address"],
        ip6.as_str()
    );

    // And the container works as configured.
    assert_eq!(env.exec(&web.name, &["cat", "/anon/file"]), "kept\n");
    assert_eq!(
        env.exec(&web.name, &["cat", "/host/hello"]),
        "from the host\n"
    );
    assert_eq!(env.exec(&web.name, &["hostname"]).trim(), "web-host");
    assert_eq!(env.exec(&web.name, &["id", "-un"]).trim(), "app");
    check_names();
}

/// What the operator did not set comes from the new image: a container without overrides shows
/// v2's defaults after the update; one with overrides keeps them and gets v2's for the rest.
#[test]
fn image_defaults_follow_the_new_image() {
    let env = TestEnv::new("image_defaults_follow_the_new_image");
    let v1_spec = ImageSpec::new()
        .env("A", "1")
        .label("l", "1")
        .entrypoint(&["sh", "-c"])
        .cmd(&[&format!("echo v1; {TRAP}")])
        .workdir("/w1")
        .user("app")
        .expose("80")
        .volume("/v1")
        .healthcheck(Healthcheck::shell("true").interval("1s").retries(3))
        .stop_signal("SIGINT");
    let v2_spec = ImageSpec::new()
        .env("A", "2")
        .label("l", "2")
        .entrypoint(&["/bin/sh", "-c"])
        .cmd(&[&format!("echo v2; {TRAP}")])
        .workdir("/w2")
        .user("nobody")
        .expose("81")
        .volume("/v2")
        .healthcheck(Healthcheck::shell("exit 0").interval("2s").retries(4))
        .stop_signal("SIGUSR1");
    let v1 = env.build_image("app", "1", &v1_spec);
    let plain = env.run("plain", &["--label", ENABLE], &v1.reference);
    let op_cmd = format!("echo op; {TRAP}");
    let op = env.run_cmd(
        "op",
        &[
            "--label",
            ENABLE,
            "-e",
            "A=op",
            "--label",
            "l=op",
            "-w",
            "/op",
            "--health-cmd",
            "test -d /op",
        ],
        &v1.reference,
        &[&op_cmd],
    );
    let op_before = env.inspect(&op.name);
    assert_eq!(
        op_before["Config"]["Healthcheck"]["Interval"], 1_000_000_000u64,
        "the engine merges the image's healthcheck interval into an operator --health-cmd"
    );
    let v2 = env.push_new_version("app", "1", &v2_spec);
    update(&env, &[&plain.name, &op.name]);

    let v2_config = env.image_inspect(&v2.id)["Config"].clone();
    let plain_after = env.inspect(&plain.name);
    let op_after = env.inspect(&op.name);
    let mut problems = Vec::new();
    let mut expect = |who: &str, after: &Value, pointer: &str, want: Value, why: &str| {
        let got = after.pointer(pointer).cloned().unwrap_or(Value::Null);
        if got != want {
            problems.push(format!("{who} {pointer}: {got}, want {want} ({why})"));
        }
    };
    let env_of = |after: &Value| sorted_strings(&after["Config"]["Env"]);
    for (who, after) in [("plain", &plain_after), ("op", &op_after)] {
        expect(who, after, "/Config/User", json!("nobody"), "v2's USER");
        expect(
            who,
            after,
            "/Config/StopSignal",
            json!("SIGUSR1"),
            "v2's STOPSIGNAL",
        );
        expect(
            who,
            after,
            "/Config/Entrypoint",
            json!(["/bin/sh", "-c"]),
            "v2's ENTRYPOINT",
        );
        expect(
            who,
            after,
            "/Config/ExposedPorts",
            json!({"81/tcp": {}}),
            "v2's EXPOSE only",
        );
        expect(
            who,
            after,
            "/Config/Volumes",
            json!({"/v2": {}}),
            "v2's VOLUME only",
        );
        expect(
            who,
            after,
            "/Config/Healthcheck/Interval",
            json!(2_000_000_000u64),
            "v2's interval",
        );
        expect(
            who,
            after,
            "/Config/Healthcheck/Retries",
            json!(4),
            "v2's retries",
        );
    }
    expect(
        "plain",
        &plain_after,
        "/Config/Cmd",
        v2_config["Cmd"].clone(),
        "v2's CMD",
    );
    expect(
        "plain",
        &plain_after,
        "/Config/WorkingDir",
        json!("/w2"),
        "v2's WORKDIR",
    );
    expect(
        "plain",
        &plain_after,
        "/Config/Labels/l",
        json!("2"),
        "v2's LABEL",
    );
    expect(
        "plain",
        &plain_after,
        "/Config/Healthcheck",
        v2_config["Healthcheck"].clone(),
        "v2's HEALTHCHECK",
    );
    expect(
        "op",
        &op_after,
        "/Config/Cmd",
        json!([op_cmd]),
        "the operator's command",
    );
    expect(
        "op",
        &op_after,
        "/Config/WorkingDir",
        json!("/op"),
        "-w /op",
    );
    expect(
        "op",
        &op_after,
        "/Config/Labels/l",
        json!("op"),
        "--label l=op",
    );
    expect(
        "op",
        &op_after,
        "/Config/Healthcheck/Test",
        json!(["CMD-SHELL", "test -d /op"]),
        "--health-cmd",
    );
    let plain_env = env_of(&plain_after);
    let op_env = env_of(&op_after);
    assert!(
        problems.is_empty(),
        "after the update:\n  {}\nplain: {}\nop: {}",
        problems.join("\n  "),
        plain_after["Config"],
        op_after["Config"]
    );
    assert!(
        plain_env.contains(&"A=2".to_owned()) && !plain_env.contains(&"A=1".to_owned()),
        "plain's Env must have v2's A=2: {plain_env:?}"
    );
    assert!(
        op_env.contains(&"A=op".to_owned()) && !op_env.iter().any(|e| e == "A=1" || e == "A=2"),
        "op's Env must keep A=op: {op_env:?}"
    );
    assert_eq!(env.exec(&plain.name, &["pwd"]).trim(), "/w2");
    assert_eq!(env.exec(&op.name, &["pwd"]).trim(), "/op");
    assert_eq!(env.exec(&plain.name, &["id", "-un"]).trim(), "nobody");
}

/// A hostname Docker gave (the short id) is not pinned: the successor gets its own; one the
/// operator set is kept.
#[test]
fn a_default_hostname_is_not_pinned() {
    let env = TestEnv::new("a_default_hostname_is_not_pinned");
    let spec = ImageSpec::new();
    let v1 = env.build_image("app", "1", &spec);
    let plain = env.run("plain", &["--label", ENABLE], &v1.reference);
    let named = env.run(
        "named",
        &["--label", ENABLE, "--hostname", "h"],
        &v1.reference,
    );
    assert_eq!(
        env.inspect(&plain.name)["Config"]["Hostname"],
        &plain.id[..12]
    );
    env.push_new_version("app", "1", &spec);
    update(&env, &[&plain.name, &named.name]);

    let after = env.inspect(&plain.name);
    let new_short = &after["Id"].as_str().unwrap()[..12];
    assert_ne!(new_short, &plain.id[..12]);
    assert_eq!(
        after["Config"]["Hostname"], new_short,
        "the successor's hostname is its own short id, not its predecessor's"
    );
    assert_eq!(env.exec(&plain.name, &["hostname"]).trim(), new_short);
    assert_eq!(env.inspect(&named.name)["Config"]["Hostname"], "h");
    assert_eq!(env.exec(&named.name, &["hostname"]).trim(), "h");
}

/// Anonymous volumes (an image VOLUME and `-v /data`) are re-attached: the same volume, the
/// same data.
#[test]
fn anonymous_volume_data_survives() {
    let env = TestEnv::new("anonymous_volume_data_survives");
    let spec = ImageSpec::new().volume("/img-data");
    let v1 = env.build_image("app", "1", &spec);
    let web = env.run("web", &["--label", ENABLE, "-v", "/data"], &v1.reference);
    env.exec(
        &web.name,
        &["sh", "-c", "echo one > /img-data/f && echo two > /data/f"],
    );
    let before = env.inspect(&web.name);
    env.push_new_version("app", "1", &spec);
    update(&env, &[&web.name]);

    let after = env.inspect(&web.name);
    assert_ne!(after["Id"], before["Id"]);
    for destination in ["/img-data", "/data"] {
        assert_eq!(
            volume_at(&after, destination),
            volume_at(&before, destination),
            "{destination}: the successor must mount the same volume"
        );
    }
    assert_eq!(env.exec(&web.name, &["cat", "/img-data/f"]), "one\n");
    assert_eq!(env.exec(&web.name, &["cat", "/data/f"]), "two\n");
}

/// Restart policies are the operator's after the update (the parking policy `no` is not left
/// on the successor), and a stopped container stays stopped.
#[test]
fn restart_policy_and_stopped_state_survive() {
    let env = TestEnv::new("restart_policy_and_stopped_state");
    let spec = ImageSpec::new();
    let v1 = env.build_image("app", "1", &spec);
    let policies = ["always", "unless-stopped", "on-failure:3", "no"];
    let running: Vec<_> = policies
        .iter()
        .enumerate()
        .map(|(i, policy)| {
            env.run(
                &format!("r{i}"),
                &["--label", ENABLE, "--restart", policy],
                &v1.reference,
            )
        })
        .collect();
    let stopped = env.run(
        "stopped",
        &["--label", ENABLE, "--restart", "always"],
        &v1.reference,
    );
    docker_ok(&["stop", &stopped.name]);
    let before: Vec<Value> = running
        .iter()
        .chain([&stopped])
        .map(|c| env.inspect(&c.name)["HostConfig"]["RestartPolicy"].clone())
        .collect();
    env.push_new_version("app", "1", &spec);
    let run = env
        .refit_command(&["update", "--json"])
        .env("REFIT_POLICY_INCLUDE_STOPPED", "true")
        .run();
    run.assert_code(0);

    for (container, policy) in running.iter().chain([&stopped]).zip(&before) {
        assert_eq!(
            run.container(&container.name)["outcome"],
            "updated",
            "{run}"
        );
        let after = env.inspect(&container.name);
        assert_ne!(after["Id"], container.id.as_str());
        assert_eq!(
            &after["HostConfig"]["RestartPolicy"], policy,
            "{}: the restart policy changed",
            container.name
        );
        let should_run = container.name != stopped.name;
        assert_eq!(
            after["State"]["Running"], should_run,
            "{}: running before the update: {should_run}",
            container.name
        );
        assert!(!env.container_exists(&format!("{}{PARKED_SUFFIX}", container.name)));
    }
}
