use reqwest::StatusCode;

use crate::helpers::*;
use firewatch::auth::Role;
use firewatch::config::{ContactSettings, OncallSettings, OverrideSettings};

fn contact(name: &str, phone: &str) -> ContactSettings {
    ContactSettings {
        name: name.into(),
        role: "SRE".into(),
        phone: phone.into(),
        email: format!("{}@example.com", name.len()),
        slack: String::new(),
    }
}

fn team(s: &mut firewatch::config::Settings, overrides: Vec<OverrideSettings>) {
    s.contacts = vec![
        contact("Engineer One", "+7 900 000-00-01"),
        contact("Engineer Two", "+7 900 000-00-02"),
        contact("Инженер Три", "+7 900 000-00-03"),
        contact("Team Lead", "+7 900 000-00-09"),
    ];
    s.oncall = Some(OncallSettings {
        members: vec![
            "Engineer One".into(),
            "Engineer Two".into(),
            "Инженер Три".into(),
        ],
        handover: "monday 10:00".into(),
        time_zone: Some("Europe/Moscow".into()),
        overrides,
        ..OncallSettings::default()
    });
}

#[tokio::test]
async fn who_is_on_call_shows_in_the_api_pages_and_status() {
    let app = spawn_app_with(|s| team(s, vec![])).await;
    let (code, body) = app.get_json("/api/v1/oncall", &app.viewer_token).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let members = ["Engineer One", "Engineer Two", "Инженер Три"];
    let primary = body["primary"]["name"].as_str().unwrap();
    let i = members
        .iter()
        .position(|m| *m == primary)
        .expect("a member");
    assert_eq!(body["secondary"]["name"], members[(i + 1) % 3]);
    assert_eq!(body["next"]["primary"]["name"], members[(i + 1) % 3]);
    assert_eq!(body["handover"], "monday 10:00");
    assert_eq!(body["time_zone"], "Europe/Moscow");
    assert!(body["override"].is_null());
    // The shift ends at the next Monday 10:00 Moscow time (07:00Z), within a week.
    let until = firewatch::time::parse_rfc3339(body["until"].as_str().unwrap())
        .unwrap()
        .unwrap();
    let now = firewatch::time::now_ms();
    assert!(until > now && until <= now + 7 * 86_400_000, "{body}");
    assert!(
        body["until"].as_str().unwrap().ends_with("T07:00:00Z"),
        "{body}"
    );
    let (_, contacts) = app.get_json("/api/v1/contacts", &app.viewer_token).await;
    assert_eq!(contacts["items"].as_array().unwrap().len(), 4);

    app.state
        .accounts
        .add_user("vera", Role::Viewer, "viewer password 4")
        .await
        .unwrap();
    let cookie = login(&app, "vera", "viewer password 4").await;
    let (_, home) = app.page("/", &cookie).await;
    assert!(home.contains("id=\"oncall\""), "{home}");
    assert!(home.contains(&format!("<strong>{primary}</strong>")));
    let phone = ["+79000000001", "+79000000002", "+79000000003"][i];
    assert!(home.contains(&format!("href=\"tel:{phone}\"")), "{home}");
    let id = app
        .post_webhook_ok(&message(
            "oc-1",
            vec![alert("A", "i1", "critical", "firing")],
        ))
        .await["incident_id"]
        .as_i64()
        .unwrap();
    let (_, detail) = app.page(&format!("/incidents/{id}"), &cookie).await;
    assert!(detail.contains(&format!("<strong>{primary}</strong>")));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_firewatch"))
        .args([
            "status",
            "--url",
            &app.address,
            "--token",
            &app.viewer_token,
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("On call\n  {primary} (")) && text.contains(", secondary "),
        "{text}"
    );
}

#[tokio::test]
async fn an_override_takes_over_and_no_rotation_is_a_404() {
    let app = spawn_app_with(|s| {
        team(
            s,
            vec![OverrideSettings {
                from: "2000-01-01".into(),
                to: "2100-01-01T00:00:00Z".into(),
                primary: "Инженер Три".into(),
                secondary: Some("Team Lead".into()),
                reason: "covering for the team".into(),
            }],
        );
    })
    .await;
    let (_, body) = app.get_json("/api/v1/oncall", &app.viewer_token).await;
    assert_eq!(body["primary"]["name"], "Инженер Три");
    assert_eq!(body["primary"]["phone"], "+7 900 000-00-03");
    assert_eq!(body["secondary"]["name"], "Team Lead");
    assert_eq!(body["override"], "covering for the team");
    assert_eq!(body["until"], "2100-01-01T00:00:00Z");

    let plain = spawn_app().await;
    let (code, body) = plain.get_json("/api/v1/oncall", &plain.viewer_token).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no on-call rotation is configured")
    );
}

#[test]
fn a_member_who_is_no_contact_stops_the_start_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("fw.toml");
    std::fs::write(
        &cfg,
        "[[contact]]\nname = \"Team Lead\"\n[oncall]\nmembers = [\"Team Lead\", \"Nobody\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_firewatch"))
        .args(["serve", "--config"])
        .arg(&cfg)
        .env("FIREWATCH__STORAGE__DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("setting `oncall.members[1]`: `Nobody` is not the name of a [[contact]]"),
        "{err}"
    );
}

pub(crate) fn pdf_text(path: &std::path::Path) -> (String, String) {
    let info = std::process::Command::new("pdfinfo")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        info.status.success(),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    let text = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(path)
        .arg("-")
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&info.stdout).into_owned(),
        String::from_utf8_lossy(&text.stdout).into_owned(),
    )
}

#[test]
fn the_card_is_one_a4_page_with_the_names_and_the_runbooks_card_commands() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("fw.toml");
    let write = |extra: &str| {
        std::fs::write(
            &cfg,
            format!(
                "[[contact]]\nname = \"Анна Петрова\"\nrole = \"SRE\"\nphone = \"+7 900 000-00-01\"\n\
                 [[contact]]\nname = \"Ben Okafor\"\nphone = \"+44 20 7946 0000\"\n{extra}\
                 [oncall]\nmembers = [\"Анна Петрова\", \"Ben Okafor\"]\nhandover = \"monday 10:00\"\n\
                 time_zone = \"Europe/Moscow\"\n"
            ),
        )
        .unwrap();
    };
    let card = |format: &str, out: &std::path::Path| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_firewatch"))
            .args(["oncall-card", "--format", format, "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(out)
            .env("FIREWATCH__STORAGE__DATA_DIR", dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    write("");
    let pdf = dir.path().join("card.pdf");
    card("pdf", &pdf);
    let (info, text) = pdf_text(&pdf);
    assert!(info.contains("Pages:           1"), "{info}");
    assert!(info.contains("A4"), "{info}");
    assert!(text.contains("Анна Петрова"), "Cyrillic renders: {text}");
    assert!(text.contains("Ben Okafor"));
    assert!(
        text.contains("kubectl -n $NS rollout undo deploy/$SVC"),
        "{text}"
    );
    assert!(text.contains("Universal rollback procedure"));
    assert!(text.contains("Until"));

    // Forty contacts with very long names: still exactly one page.
    let many: String = (0..40)
        .map(|i| {
            format!(
                "[[contact]]\nname = \"Очень длинное имя сотрудника номер {i} из отдела надёжности и эксплуатации\"\n\
                 role = \"Escalation\"\nphone = \"+7 900 000-00-{i:02}\"\nemail = \"person{i}@example.com\"\n"
            )
        })
        .collect();
    write(&many);
    card("pdf", &pdf);
    let (info, text) = pdf_text(&pdf);
    assert!(info.contains("Pages:           1"), "{info}");
    assert!(text.contains("Анна Петрова"));

    write("");
    let md = dir.path().join("card.md");
    card("md", &md);
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.starts_with("# On-call card\n"));
    assert!(
        md.contains("| Анна Петрова | SRE | +7 900 000-00-01 |"),
        "{md}"
    );
    assert!(
        md.contains("```sh\nkubectl -n $NS rollout undo deploy/$SVC"),
        "{md}"
    );
}

#[tokio::test]
async fn the_card_is_served_as_a_page_pdf_and_markdown() {
    let rec = crate::notify::Recorder::start(200);
    let app = spawn_app_with(|s| {
        crate::notify::receivers(s, &rec);
        team(s, vec![]);
    })
    .await;
    app.state
        .accounts
        .add_user("wim", Role::Viewer, "viewer password 5")
        .await
        .unwrap();
    let cookie = login(&app, "wim", "viewer password 5").await;
    let (code, page) = app.page("/oncall", &cookie).await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        page.contains("Escalation contacts") && page.contains("Инженер Три"),
        "{page}"
    );
    assert!(page.contains("rollout undo deploy/$SVC"));
    assert!(
        page.contains("<th>Sent to</th>") && page.contains("incidents (slack)"),
        "{page}"
    );
    let res = app
        .client
        .get(app.url("/oncall/card.pdf"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("served.pdf");
    std::fs::write(&path, &bytes).unwrap();
    let (info, text) = pdf_text(&path);
    assert!(info.contains("Pages:           1"), "{info}");
    assert!(
        text.contains("Инженер Три") || text.contains("Engineer"),
        "{text}"
    );
    let (code, md) = app.page("/oncall/card.md", &cookie).await;
    assert_eq!(code, StatusCode::OK);
    assert!(md.contains("## Escalation contacts"));
    // The P0 runbook's contacts come from the configuration.
    let (_, rb) = app.page("/runbooks/p0-incident", &cookie).await;
    assert!(
        rb.contains("<table class=\"table contacts\">") && rb.contains("Team Lead"),
        "{rb}"
    );
    assert!(!rb.contains("{{contacts}}"));
}

#[tokio::test]
async fn a_handover_is_posted_once_to_the_slack_receivers_with_a_link_to_the_card() {
    let rec = crate::notify::Recorder::start(200);
    let app = spawn_app_with(|s| {
        crate::notify::receivers(s, &rec);
        team(s, vec![]);
    })
    .await;
    let (_, now) = app.get_json("/api/v1/oncall", &app.viewer_token).await;
    let until = firewatch::time::parse_rfc3339(now["until"].as_str().unwrap())
        .unwrap()
        .unwrap();
    let hour = 3_600_000;
    let run = |at: i64| firewatch::scheduler::run_handover_once(&app.state, at);
    // Just after the next handover: the mark moves past it (the first check after the
    // start already announced or skipped it); an hour later there is nothing new.
    let first = run(until + hour).await.unwrap();
    assert_eq!(run(until + 2 * hour).await.unwrap(), 0);
    // A week on, the following handover: posted to each Slack receiver, once.
    let n = run(until + 7 * 86_400_000 + 60_000).await.unwrap();
    assert_eq!(n, 1, "the Slack receiver P0 and P1 incidents go to");
    assert_eq!(run(until + 7 * 86_400_000 + 120_000).await.unwrap(), 0);
    let expected = app.state.oncall.at(until + 7 * 86_400_000).unwrap();
    // The first handover's message (if it was posted) comes before this one.
    let seen = rec.wait_for("/slack/incidents", first + 1).await;
    let text = seen.last().unwrap().body["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.starts_with(&format!("{} is now on call until ", expected.primary.name))
            && text.contains(" 10:00 MSK, secondary ")
            && text.ends_with(&format!("{}.", expected.secondary.unwrap().name)),
        "{text}"
    );
    let block = seen.last().unwrap().body["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        block.ends_with("<https://firewatch.example.com/oncall|On-call card>"),
        "{block}"
    );
    assert!(
        rec.seen("/pagerduty").is_empty(),
        "only Slack gets handovers"
    );
}
