//! `firewatch generate`: Sloth golden outputs, promtool/amtool checks, dashboard shape and
//! error messages for invalid specs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_yaml_ng::Value;

const BIN: &str = env!("CARGO_BIN_EXE_firewatch");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/generate");

fn reference(name: &str) -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reference/slo"
    ))
    .join(name)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

/// Runs the binary in `dir` (so no stray ./firewatch.toml is picked up).
fn firewatch(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run firewatch")
}

fn stdout_ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "firewatch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn tool(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn assert_tool_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn promtool_check(dir: &Path, name: &str, rules: &str) {
    let path = dir.join(name);
    std::fs::write(&path, rules).unwrap();
    let out = tool(
        "/usr/bin/promtool",
        &["check", "rules", path.to_str().unwrap()],
    );
    assert_tool_ok(&out, &format!("promtool check rules {name}"));
}

/// Rewrites float literals to 10 significant digits (0.9990000000000001 == 0.999) and
/// drops whitespace, so layout and float printing do not matter.
fn normalise(text: &str) -> String {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                out.push(chars[i]);
                i += 1;
            }
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let lit: String = chars[start..i].iter().collect();
            match lit.parse::<f64>() {
                Ok(v) => out.push_str(&format!("{v:.9e}")),
                Err(_) => out.push_str(&lit),
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// (group name, rules as (kind:name, expr, labels, annotations)), all normalised.
type Rules = Vec<(String, Vec<[String; 4]>)>;

fn semantic(text: &str) -> Rules {
    let doc: Value = serde_yaml_ng::from_str(text).unwrap();
    let map = |v: &Value| -> String {
        let mut entries: Vec<String> = v
            .as_mapping()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let v = v.as_str().map(str::to_string).unwrap_or_else(|| {
                            serde_yaml_ng::to_string(v).unwrap().trim().to_string()
                        });
                        format!("{}={}", k.as_str().unwrap(), normalise(&v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        entries.sort();
        entries.join(",")
    };
    doc["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        // Firewatch's own addition after Sloth's groups; checked on its own below.
        .filter(|g| {
            !g["name"]
                .as_str()
                .unwrap()
                .starts_with("firewatch-slo-traffic-")
        })
        .map(|g| {
            let rules = g["rules"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|r| {
                    let name = match (r.get("record"), r.get("alert")) {
                        (Some(rec), _) => format!("record:{}", rec.as_str().unwrap()),
                        (_, Some(a)) => format!("alert:{}", a.as_str().unwrap()),
                        _ => panic!("rule without record or alert"),
                    };
                    [
                        name,
                        normalise(r["expr"].as_str().unwrap()),
                        map(&r["labels"]),
                        map(&r["annotations"]),
                    ]
                })
                .collect();
            (g["name"].as_str().unwrap().to_string(), rules)
        })
        .collect()
}

fn assert_matches_golden(input: &str, extra: &[&str], golden: &str) {
    let dir = tempfile::tempdir().unwrap();
    let input = reference(input);
    let mut args = vec![
        "generate",
        "prometheus-rules",
        "--input",
        input.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let ours = stdout_ok(firewatch(dir.path(), &args));
    let expected = std::fs::read_to_string(reference(golden)).unwrap();
    let (ours_s, expected_s) = (semantic(&ours), semantic(&expected));
    assert_eq!(
        ours_s.iter().map(|g| &g.0).collect::<Vec<_>>(),
        expected_s.iter().map(|g| &g.0).collect::<Vec<_>>(),
        "group names"
    );
    for ((name, ours_rules), (_, expected_rules)) in ours_s.iter().zip(&expected_s) {
        assert_eq!(
            ours_rules.len(),
            expected_rules.len(),
            "rule count in {name}"
        );
        for (o, e) in ours_rules.iter().zip(expected_rules) {
            assert_eq!(o, e, "group {name}");
        }
    }
    promtool_check(dir.path(), "rules.yaml", &ours);
}

const VTEST: [&str; 2] = ["--version-label", "vTEST"];
const EXAMPLES: [&str; 4] = [
    "--version-label",
    "dev",
    "--extra-label",
    "cmd=examplesgen.sh",
];
const BASE: &str = "slok_sloth__test_integration_prometheus_testdata_in-base.yaml";

#[test]
fn sloth_base_spec_matches_the_golden_output() {
    assert_matches_golden(
        BASE,
        &VTEST,
        "slok_sloth__test_integration_prometheus_testdata_out-base.yaml.RENDERED-version-vTEST.yaml",
    );
}

#[test]
fn sloth_base_spec_with_a_28d_period_matches_the_golden_output() {
    assert_matches_golden(
        BASE,
        &["--version-label", "vTEST", "--period", "28d"],
        "slok_sloth__test_integration_prometheus_testdata_out-base-28d.yaml.RENDERED-version-vTEST.yaml",
    );
}

#[test]
fn sloth_base_spec_with_custom_7d_windows_matches_the_golden_output() {
    let windows = reference("slok_sloth__test_integration_prometheus_windows_7d.yaml");
    assert_matches_golden(
        BASE,
        &[
            "--version-label",
            "vTEST",
            "--period",
            "7d",
            "--windows",
            windows.to_str().unwrap(),
        ],
        "slok_sloth__test_integration_prometheus_testdata_out-base-custom-windows-7d.yaml.RENDERED-version-vTEST.yaml",
    );
}

#[test]
fn openslo_v1alpha_spec_matches_the_golden_output() {
    assert_matches_golden(
        "slok_sloth__test_integration_prometheus_testdata_in-openslo.yaml",
        &VTEST,
        "slok_sloth__test_integration_prometheus_testdata_out-openslo.yaml.RENDERED-version-vTEST.yaml",
    );
}

#[test]
fn sloth_getting_started_example_matches_the_golden_output() {
    assert_matches_golden(
        "slok_sloth__examples_getting-started.yml",
        &EXAMPLES,
        "slok_sloth__examples__gen_getting-started.yml",
    );
}

#[test]
fn sloth_raw_home_wifi_example_matches_the_golden_output() {
    assert_matches_golden(
        "slok_sloth__examples_raw-home-wifi.yml",
        &EXAMPLES,
        "slok_sloth__examples__gen_raw-home-wifi.yml",
    );
}

#[test]
fn without_any_slo_the_default_stack_is_generated_and_valid() {
    let dir = tempfile::tempdir().unwrap();
    let text = stdout_ok(firewatch(
        dir.path(),
        &[
            "generate",
            "prometheus-rules",
            "--public-url",
            "https://fw.example.com",
        ],
    ));
    promtool_check(dir.path(), "default.yaml", &text);
    let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
    let groups = doc["groups"].as_sequence().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"sloth-slo-alerts-firewatch-api-availability"));
    assert!(names.contains(&"sloth-slo-alerts-firewatch-api-latency"));
    let own = groups
        .iter()
        .find(|g| g["name"].as_str() == Some("firewatch-self-monitoring"))
        .expect("self-monitoring group");
    let rules = own["rules"].as_sequence().unwrap();
    assert_eq!(rules.len(), 11);
    for r in rules {
        let alert = r["alert"].as_str().unwrap();
        let severity = r["labels"]["severity"].as_str().unwrap();
        assert!(
            ["P0", "P1", "P2"].contains(&severity),
            "{alert}: {severity}"
        );
        assert!(r["annotations"]["summary"].is_string(), "{alert}");
        assert!(r["annotations"]["description"].is_string(), "{alert}");
        let runbook = r["annotations"]["runbook_url"].as_str().unwrap();
        assert!(
            runbook.starts_with("https://fw.example.com/runbooks/"),
            "{runbook}"
        );
    }
    assert!(text.contains("absent(firewatch_http_requests_total)"));
    assert!(text.contains(r#"le="0.256""#));
    assert!(text.contains("https://fw.example.com/runbooks/firewatch-down"));
    let page = groups
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap())
        .find(|r| r["labels"]["sloth_severity"].as_str() == Some("page"))
        .unwrap();
    assert_eq!(page["labels"]["severity"].as_str(), Some("P0"));
}

#[test]
fn native_ratio_latency_and_probe_slos_generate_valid_rules() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture("native-slos.toml");
    let text = stdout_ok(firewatch(
        dir.path(),
        &[
            "generate",
            "prometheus-rules",
            "--config",
            config.to_str().unwrap(),
        ],
    ));
    promtool_check(dir.path(), "native.yaml", &text);
    assert!(text.contains(r#"http_request_duration_seconds_bucket{job="checkout",le="0.3"}"#));
    assert!(text.contains("1 - avg(avg_over_time(probe_success{"));
    assert!(
        text.contains("slo:sli_error:ratio_rate4w"),
        "28d is written 4w"
    );
    assert!(!text.contains("firewatch-self-monitoring"));
    // The dashboard's traffic and latency panels: requests and errors of every SLI from
    // its own selectors, failed checks of probes, the p99 of latency histograms.
    let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
    let traffic: Vec<(String, Vec<(String, String)>)> = doc["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|g| {
            g["name"]
                .as_str()
                .unwrap()
                .starts_with("firewatch-slo-traffic-")
        })
        .map(|g| {
            let rules = g["rules"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["record"].as_str().unwrap().to_string(),
                        r["expr"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (g["name"].as_str().unwrap().to_string(), rules)
        })
        .collect();
    let find = |slo: &str, record: &str| -> String {
        traffic
            .iter()
            .find(|(name, _)| name.ends_with(slo))
            .and_then(|(_, rules)| rules.iter().find(|(r, _)| r == record))
            .map(|(_, e)| e.clone())
            .unwrap_or_else(|| panic!("{slo}: no {record} in {traffic:?}"))
    };
    assert_eq!(
        find("checkout-checkout-availability", "slo:sli_requests:rate5m"),
        r#"sum(rate(http_requests_total{job="checkout"}[5m]))"#
    );
    assert_eq!(
        find(
            "checkout-checkout-latency",
            "slo:sli_latency_seconds:p99_5m"
        ),
        r#"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="checkout"}[5m])))"#
    );
    assert!(find("probe", "slo:sli_errors:rate5m").contains("sum_over_time(probe_success{"));
}

#[test]
fn openslo_v1_with_prometheus_queries_generates_valid_rules() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("openslo-v1-prometheus.yaml");
    let text = stdout_ok(firewatch(
        dir.path(),
        &[
            "generate",
            "prometheus-rules",
            "-i",
            input.to_str().unwrap(),
        ],
    ));
    promtool_check(dir.path(), "openslo.yaml", &text);
    assert!(text.contains("sloth-slo-sli-recordings-web-web-availability"));
}

#[test]
fn prometheus_operator_format_wraps_valid_groups_in_a_prometheus_rule() {
    let dir = tempfile::tempdir().unwrap();
    let input = reference(BASE);
    let text = stdout_ok(firewatch(
        dir.path(),
        &[
            "generate",
            "prometheus-rules",
            "-i",
            input.to_str().unwrap(),
            "--format",
            "prometheus-operator",
        ],
    ));
    let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(doc["apiVersion"].as_str(), Some("monitoring.coreos.com/v1"));
    assert_eq!(doc["kind"].as_str(), Some("PrometheusRule"));
    let mut unwrapped = serde_yaml_ng::Mapping::new();
    unwrapped.insert("groups".into(), doc["spec"]["groups"].clone());
    promtool_check(
        dir.path(),
        "unwrapped.yaml",
        &serde_yaml_ng::to_string(&unwrapped).unwrap(),
    );
}

#[test]
fn promtool_unit_tests_page_on_fast_burn_ticket_on_slow_burn_and_stay_quiet_when_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture("burn-slo.toml");
    let rules = dir.path().join("rules.yaml");
    stdout_ok(firewatch(
        dir.path(),
        &[
            "generate",
            "prometheus-rules",
            "--config",
            config.to_str().unwrap(),
            "--out",
            rules.to_str().unwrap(),
        ],
    ));
    let tests = dir.path().join("burn-tests.yaml");
    std::fs::copy(fixture("burn-tests.yaml"), &tests).unwrap();
    let out = tool(
        "/usr/bin/promtool",
        &["test", "rules", tests.to_str().unwrap()],
    );
    assert_tool_ok(&out, "promtool test rules");
}

#[test]
fn alertmanager_config_passes_amtool_and_never_inlines_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    let secret_values = [
        ("firewatch-webhook-token", "fw-token-0123456789abcdef"),
        ("pagerduty-routing-key", "pd-key-0123456789abcdef"),
        (
            "slack-webhook-url",
            "https://hooks.slack.com/services/T0/B0/secret",
        ),
        ("smtp-password", "smtp-secret-password"),
    ];
    for (name, value) in secret_values {
        std::fs::write(secrets.join(name), value).unwrap();
    }
    let out_file = dir.path().join("alertmanager.yml");
    stdout_ok(firewatch(
        dir.path(),
        &[
            "generate",
            "alertmanager-config",
            "--public-url",
            "https://fw.example.com",
            "--secrets-dir",
            secrets.to_str().unwrap(),
            "--out",
            out_file.to_str().unwrap(),
        ],
    ));
    let out = tool(
        "/usr/bin/amtool",
        &["check-config", out_file.to_str().unwrap()],
    );
    assert_tool_ok(&out, "amtool check-config");
    let text = std::fs::read_to_string(&out_file).unwrap();
    for (_, value) in secret_values {
        assert!(!text.contains(value), "secret {value} inlined");
    }
    for key in [
        "routing_key:",
        "api_url:",
        "auth_password:",
        "credentials:",
        "service_key:",
    ] {
        assert!(
            !text.contains(key),
            "{key} must only appear as a *_file field"
        );
    }
    assert!(text.contains("https://fw.example.com/api/v1/alerts/alertmanager"));
    let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(doc["inhibit_rules"].as_sequence().unwrap().len(), 2);
    // Where alerts go, asked of amtool itself: by default everything to Firewatch (which
    // notifies once per incident), FirewatchDown straight to PagerDuty and Slack.
    let routes_to = |file: &Path, labels: &[&str]| {
        let mut args = vec!["config", "routes", "test", "--config.file"];
        let file = file.to_str().unwrap().to_string();
        args.push(&file);
        args.extend_from_slice(labels);
        let out = tool("/usr/bin/amtool", &args);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(
        routes_to(&out_file, &["severity=critical", "service=checkout"]),
        "firewatch"
    );
    assert_eq!(
        routes_to(&out_file, &["alertname=FirewatchDown", "service=firewatch"]),
        "pagerduty-and-slack-incidents"
    );
    // With --direct-routes, Alertmanager also routes by the severity values alerts carry
    // (critical is P0 for Firewatch, so it pages).
    let direct = dir.path().join("direct.yml");
    stdout_ok(firewatch(
        dir.path(),
        &[
            "generate",
            "alertmanager-config",
            "--direct-routes",
            "--secrets-dir",
            secrets.to_str().unwrap(),
            "--out",
            direct.to_str().unwrap(),
        ],
    ));
    assert_tool_ok(
        &tool(
            "/usr/bin/amtool",
            &["check-config", direct.to_str().unwrap()],
        ),
        "amtool check-config --direct-routes",
    );
    assert_eq!(
        routes_to(&direct, &["severity=critical", "service=checkout"]),
        "firewatch,pagerduty-and-slack-incidents"
    );
    assert_eq!(
        routes_to(&direct, &["severity=warning", "service=checkout"]),
        "firewatch,slack-alerts-and-email"
    );
}

/// The generated files carry the public URL the admin page shows: `server.public_url`, or
/// the listen address when it is not set, from the settings file and the environment.
#[test]
fn generated_files_use_the_public_url_the_server_shows() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("firewatch.toml"),
        "[server]\nlisten = \"127.0.0.1:9400\"\n",
    )
    .unwrap();
    let text = stdout_ok(firewatch(dir.path(), &["generate", "alertmanager-config"]));
    assert!(
        text.contains("http://127.0.0.1:9400/api/v1/alerts/alertmanager"),
        "{text}"
    );
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env("FIREWATCH__SERVER__PUBLIC_URL", "https://fw.example.org/")
        .args(["generate", "alertmanager-config"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("https://fw.example.org/api/v1/alerts/alertmanager"),
        "{text}"
    );
}

#[test]
fn grafana_dashboard_has_thirteen_panels_variables_and_the_deployments_annotation() {
    let dir = tempfile::tempdir().unwrap();
    let text = stdout_ok(firewatch(dir.path(), &["generate", "grafana-dashboard"]));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["schemaVersion"], 39);
    assert_eq!(doc["refresh"], "30s");
    let panels = doc["panels"].as_array().unwrap();
    assert_eq!(panels.len(), 13);
    for p in panels {
        assert!(p["gridPos"]["w"].as_u64().unwrap() > 0, "{}", p["title"]);
        assert_eq!(p["datasource"]["uid"], "${datasource}");
        assert!(!p["targets"].as_array().unwrap().is_empty());
    }
    let vars: Vec<&str> = doc["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(vars, ["datasource", "service", "slo"]);
    let deployments = doc["annotations"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "Deployments")
        .expect("Deployments annotation");
    assert!(
        deployments["expr"]
            .as_str()
            .unwrap()
            .contains("firewatch_last_deployment_timestamp_seconds{service=~\"$service\"}")
    );
    assert_eq!(deployments["useValueForTime"], true);
    assert_eq!(deployments["textFormat"], "{{service}} {{version}}");
    // No panel charts Firewatch's own HTTP metrics in place of the selected service.
    assert!(!text.contains("firewatch_http_"), "{text}");
    assert!(text.contains(
        r#"slo:sli_error:ratio_rate5m{sloth_service=~\"$service\", sloth_slo=~\"$slo\"}"#
    ));
}

/// Runs `generate prometheus-rules` on `file` (written into a temp dir) and returns stderr;
/// asserts exit code 2.
fn refused(file: &str, text: &str, as_config: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(file), text).unwrap();
    let flag = if as_config { "--config" } else { "--input" };
    let out = firewatch(dir.path(), &["generate", "prometheus-rules", flag, file]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).unwrap()
}

const SLOTH_SPEC: &str = r#"
version: "prometheus/v1"
service: "myservice"
slos:
  - name: "requests-availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      name: HighErrorRate
"#;

#[test]
fn an_unknown_spec_version_is_refused_naming_file_and_field() {
    let err = refused(
        "slos.yaml",
        &SLOTH_SPEC.replace("prometheus/v1", "prometheus/v9"),
        false,
    );
    assert!(
        err.contains(r#"slos.yaml: field version: unknown spec version "prometheus/v9""#),
        "{err}"
    );
}

#[test]
fn an_objective_out_of_range_is_refused_naming_file_slo_and_field() {
    let err = refused("slos.yaml", &SLOTH_SPEC.replace("99.9", "120"), false);
    assert!(
        err.contains(
            r#"slos.yaml: SLO "requests-availability": field objective: must be between 0 and 100 (got 120)"#
        ),
        "{err}"
    );
}

#[test]
fn a_query_without_the_window_placeholder_is_refused() {
    let err = refused(
        "slos.yaml",
        &SLOTH_SPEC.replacen("[{{.window}}]", "[5m]", 1),
        false,
    );
    assert!(
        err.contains(r#"slos.yaml: SLO "requests-availability": field sli.events.error_query: query must contain the {{.window}} placeholder"#),
        "{err}"
    );
}

#[test]
fn duplicate_slo_names_are_refused() {
    let twice = format!(
        "{SLOTH_SPEC}{}",
        SLOTH_SPEC.split_once("slos:\n").unwrap().1
    );
    let err = refused("slos.yaml", &twice, false);
    assert!(
        err.contains(r#"slos.yaml: SLO "requests-availability": field name: duplicate SLO name"#),
        "{err}"
    );
}

#[test]
fn a_bad_period_in_firewatch_toml_is_refused() {
    let text = std::fs::read_to_string(fixture("burn-slo.toml"))
        .unwrap()
        .replace("\"30d\"", "\"30x\"");
    let err = refused("firewatch.toml", &text, true);
    assert!(
        err.contains(
            r#"firewatch.toml: SLO "demo-availability": field period: `30x` is not a duration"#
        ),
        "{err}"
    );
}

#[test]
fn an_unreadable_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = firewatch(
        dir.path(),
        &["generate", "prometheus-rules", "--input", "missing.yaml"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("missing.yaml: cannot read the file"), "{err}");
}

#[test]
fn sli_plugins_and_non_prometheus_openslo_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    for (input, expected) in [
        (
            "slok_sloth__test_integration_prometheus_testdata_in-sli-plugin.yaml",
            "field sli.plugin: SLI plugins",
        ),
        (
            "OpenSLO_OpenSLO__examples_budgeting-method_occurences-slo.yaml",
            r#"SLO "search-slo": field spec.indicator.spec.thresholdMetric"#,
        ),
        (
            "OpenSLO_OpenSLO__examples_budgeting-method_timeslices-slo.yaml",
            "field spec.budgetingMethod: Timeslices is not supported",
        ),
    ] {
        let path = reference(input);
        let out = firewatch(
            dir.path(),
            &["generate", "prometheus-rules", "-i", path.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(2), "{input}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(expected), "{input}: {err}");
    }
}
