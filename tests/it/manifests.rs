//! The deployment files in `manifests/`: each is parsed, and what it names is checked
//! against the product itself. The image's entrypoint and user, the ports and probe paths,
//! and the subcommands must agree across the Dockerfile, Kubernetes, Compose and systemd.
//! Every setting a file gives must be one the binary accepts: `check-config` runs with
//! exactly that environment.

use serde_norway::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    serde_norway::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => &v[i],
        Err(_) => &v[*k],
    })
}

fn text(v: &Value, path: &[&str]) -> String {
    match s(v, path) {
        Value::String(t) => t.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("{path:?} is not a string: {other:?}"),
    }
}

/// `check-config` with exactly these settings, each of them one the README documents; a
/// panic naming the file if any is unknown or refused.
fn check_config(file: &str, env: &BTreeMap<String, String>) {
    let readme = read("README.md");
    for key in env.keys() {
        assert!(
            readme.contains(&format!("`{key}`")),
            "{file}: `{key}` is no documented setting"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_handoff-bridge"))
        .arg("check-config")
        .env_clear()
        .envs(env)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.starts_with("configuration OK"),
        "{file}: check-config refused its settings {:?}:\n{said}",
        env.keys().collect::<Vec<_>>()
    );
}

/// A subcommand of the binary, as a manifest names it, exists.
fn is_subcommand(name: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_handoff-bridge"))
        .args([name, "--help"])
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success(), "`handoff-bridge {name}` is not a subcommand");
}

/// The port of a `host:port` listen address.
fn port_of(listen: &str) -> u16 {
    listen
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("`{listen}` has no port"))
}

/// The final stage of the Dockerfile: (instruction, arguments) in order.
fn runtime_stage() -> Vec<(String, String)> {
    let file = read("manifests/Dockerfile");
    let mut stages: Vec<Vec<(String, String)>> = Vec::new();
    let mut logical = String::new();
    for line in file.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        logical.push_str(line.trim_end_matches('\\'));
        logical.push(' ');
        if line.ends_with('\\') {
            continue;
        }
        let (op, rest) = logical.trim().split_once(' ').unwrap_or((logical.trim(), ""));
        let (op, rest) = (op.to_uppercase(), rest.trim().to_owned());
        if op == "FROM" {
            stages.push(Vec::new());
        }
        stages
            .last_mut()
            .expect("the Dockerfile starts with FROM")
            .push((op, rest));
        logical.clear();
    }
    assert!(stages.len() >= 2, "a multi-stage build");
    // Every file the build stage copies is in the repository.
    for (op, rest) in &stages[0] {
        if op == "COPY" && !rest.starts_with("--") {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            for src in &parts[..parts.len() - 1] {
                assert!(
                    root().join(src).exists(),
                    "the Dockerfile copies `{src}`, which is missing"
                );
            }
        }
    }
    stages.pop().unwrap()
}

fn instruction<'a>(stage: &'a [(String, String)], op: &str) -> Vec<&'a str> {
    stage.iter().filter(|(o, _)| o == op).map(|(_, r)| r.as_str()).collect()
}

/// `KEY=value` pairs of Dockerfile `ENV` lines.
fn env_of(stage: &[(String, String)]) -> BTreeMap<String, String> {
    instruction(stage, "ENV")
        .iter()
        .flat_map(|r| r.split_whitespace())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// What the image is: its user, port, entrypoint and default command.
struct Image {
    uid: u32,
    port: u16,
    entrypoint: String,
}

fn image() -> Image {
    let stage = runtime_stage();
    let user = instruction(&stage, "USER").pop().expect("the runtime stage sets USER");
    let uid: u32 = user.split(':').next().unwrap().parse().expect("USER is a numeric uid");
    assert_ne!(uid, 0, "the image does not run as root");
    let env = env_of(&stage);
    let port = port_of(&env["HANDOFF_LISTEN"]);
    assert!(
        env["HANDOFF_LISTEN"].starts_with("0.0.0.0:"),
        "a container listens on every interface"
    );
    assert_eq!(instruction(&stage, "EXPOSE"), [port.to_string().as_str()]);
    let entry: Vec<String> =
        serde_json::from_str(instruction(&stage, "ENTRYPOINT").pop().expect("ENTRYPOINT")).expect("exec form");
    assert_eq!(entry.len(), 1);
    let cmd: Vec<String> = serde_json::from_str(instruction(&stage, "CMD").pop().expect("CMD")).expect("exec form");
    assert_eq!(cmd, ["serve"]);
    let copied = instruction(&stage, "COPY");
    assert!(
        copied
            .iter()
            .any(|c| c.starts_with("--from=") && c.ends_with(&entry[0])),
        "the entrypoint is the binary copied from the build stage: {copied:?}"
    );
    assert!(entry[0].ends_with("/handoff-bridge"));
    check_config("manifests/Dockerfile", &env);
    Image {
        uid,
        port,
        entrypoint: entry[0].clone(),
    }
}

#[test]
fn the_dockerfile_builds_in_stages_and_runs_the_binary_as_a_user_on_its_port() {
    let image = image();
    assert_eq!(image.port, 8080);
    assert_eq!(image.entrypoint, "/usr/local/bin/handoff-bridge");
    is_subcommand("serve");
}

#[test]
fn kubernetes_probes_ports_names_and_settings_agree_with_the_image() {
    let image = image();
    let deployment = yaml("manifests/kubernetes/deployment.yaml");
    let config = yaml("manifests/kubernetes/configmap.yaml");
    let secret = yaml("manifests/kubernetes/secret.example.yaml");
    let service = yaml("manifests/kubernetes/service.yaml");
    let pdb = yaml("manifests/kubernetes/pdb.yaml");
    for (v, kind) in [
        (&deployment, "Deployment"),
        (&config, "ConfigMap"),
        (&secret, "Secret"),
        (&service, "Service"),
        (&pdb, "PodDisruptionBudget"),
    ] {
        assert_eq!(text(v, &["kind"]), kind);
    }

    let pod = s(&deployment, &["spec", "template", "spec"]);
    let labels = s(&deployment, &["spec", "template", "metadata", "labels"]);
    assert_eq!(s(&deployment, &["spec", "selector", "matchLabels"]), labels);
    assert_eq!(
        s(&service, &["spec", "selector"]),
        labels,
        "the Service selects the pods"
    );
    assert_eq!(
        s(&pdb, &["spec", "selector", "matchLabels"]),
        labels,
        "the budget covers the pods"
    );
    assert_eq!(s(pod, &["securityContext", "runAsNonRoot"]), &Value::Bool(true));
    assert_eq!(text(pod, &["securityContext", "runAsUser"]), image.uid.to_string());
    let grace: u64 = text(pod, &["terminationGracePeriodSeconds"]).parse().unwrap();
    assert!(grace >= 10, "a stop has time to give rows back");

    let container = s(pod, &["containers", "0"]);
    assert_eq!(
        text(container, &["ports", "0", "containerPort"]),
        image.port.to_string()
    );
    let port_name = text(container, &["ports", "0", "name"]);
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        assert_eq!(text(container, &[probe, "httpGet", "path"]), path);
        assert_eq!(text(container, &[probe, "httpGet", "port"]), port_name);
    }
    assert_eq!(text(&service, &["spec", "ports", "0", "targetPort"]), port_name);

    // The subcommands the pod runs exist, and it reads the settings this folder makes.
    let name = |v: &Value| text(v, &["metadata", "name"]);
    let mut containers = vec![container];
    containers.extend(s(pod, &["initContainers"]).as_sequence().into_iter().flatten());
    for c in containers {
        for arg in s(c, &["args"]).as_sequence().expect("args") {
            is_subcommand(arg.as_str().unwrap());
        }
        let from = s(c, &["envFrom"]).as_sequence().expect("envFrom");
        assert_eq!(text(&from[0], &["configMapRef", "name"]), name(&config));
        assert_eq!(text(&from[1], &["secretRef", "name"]), name(&secret));
    }

    // The ConfigMap and the Secret template together are a configuration the binary
    // accepts, listening where the probes look.
    let mut env = BTreeMap::new();
    for (v, key) in [(&config, "data"), (&secret, "stringData")] {
        for (k, val) in s(v, &[key]).as_mapping().expect("settings") {
            env.insert(
                k.as_str().unwrap().to_owned(),
                val.as_str().expect("a string value").to_owned(),
            );
        }
    }
    assert_eq!(port_of(&env["HANDOFF_LISTEN"]), image.port);
    assert!(
        env["DATABASE_URL"].starts_with("postgres://"),
        "several replicas need PostgreSQL"
    );
    check_config("manifests/kubernetes", &env);
}

#[test]
fn compose_runs_the_image_on_postgresql_once_it_is_healthy() {
    let image = image();
    let compose = yaml("manifests/docker-compose.yml");
    let bridge = s(&compose, &["services", "bridge"]);
    let dockerfile = Path::new("manifests")
        .join(text(bridge, &["build", "context"]))
        .join(text(bridge, &["build", "dockerfile"]));
    assert!(root().join(&dockerfile).exists(), "{}", dockerfile.display());
    assert_eq!(
        text(bridge, &["depends_on", "postgres", "condition"]),
        "service_healthy"
    );
    assert!(!s(&compose, &["services", "postgres", "healthcheck", "test"]).is_null());
    for arg in s(bridge, &["command"]).as_sequence().expect("command") {
        is_subcommand(arg.as_str().unwrap());
    }
    let ports = text(bridge, &["ports", "0"]);
    assert_eq!(ports.rsplit(':').next().unwrap(), image.port.to_string());

    // `${NAME:?…}` must be given, `${NAME:-}` stays unset when not.
    let mut env = BTreeMap::new();
    for (k, v) in s(bridge, &["environment"]).as_mapping().expect("environment") {
        let (k, v) = (k.as_str().unwrap(), v.as_str().unwrap());
        match v.strip_prefix("${") {
            Some(rest) if rest.contains(":?") => {
                env.insert(k.to_owned(), format!("given-by-the-operator-{k}").to_lowercase());
            }
            Some(_) => {}
            None => {
                env.insert(k.to_owned(), v.to_owned());
            }
        }
    }
    assert_eq!(port_of(&env["HANDOFF_LISTEN"]), image.port);
    let db = &env["DATABASE_URL"];
    assert!(db.starts_with("postgres://") && db.contains("@postgres:5432/"), "{db}");
    check_config("manifests/docker-compose.yml", &env);
}

#[test]
fn the_systemd_unit_checks_the_configuration_then_serves_without_root() {
    let unit = read("manifests/systemd/handoff-bridge.service");
    let mut keys: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in unit.lines().map(str::trim) {
        if let Some((k, v)) = line.split_once('=')
            && !line.starts_with('#')
        {
            keys.entry(k).or_default().push(v);
        }
    }
    let one = |k: &str| -> &str { keys.get(k).and_then(|v| v.first()).unwrap_or_else(|| panic!("no {k}=")) };
    assert_eq!(
        one("DynamicUser"),
        "yes",
        "it runs as no user of its own on the machine"
    );
    assert!(!keys.contains_key("User") || one("User") != "root");
    assert_eq!(one("Restart"), "on-failure");
    assert_eq!(one("KillSignal"), "SIGTERM");
    for (key, sub) in [("ExecStartPre", "check-config"), ("ExecStart", "serve")] {
        let cmd: Vec<&str> = one(key).split_whitespace().collect();
        assert_eq!(cmd, [image().entrypoint.as_str(), sub], "{key}");
        is_subcommand(sub);
    }
    let env: BTreeMap<String, String> = keys["Environment"]
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert!(
        env["HANDOFF_LISTEN"].starts_with("127.0.0.1:"),
        "behind a reverse proxy by default"
    );
    assert!(
        env["DATABASE_URL"].contains(one("WorkingDirectory")),
        "the database is in the state directory"
    );
    check_config("manifests/systemd/handoff-bridge.service", &env);
}
