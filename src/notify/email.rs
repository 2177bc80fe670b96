//! Email: the bodies of an incident's message, the monthly report with its PDF attached,
//! and sending through the configured SMTP server (lettre).

use lettre::message::{Attachment, Mailbox, MultiPart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::channels::{Delivery, Subject, severity_colour, status_word};
use super::{NotifyConfig, Receiver};
use crate::config::SmtpTls;

/// Plain-text and HTML bodies of the email.
pub fn bodies(s: &Subject) -> (String, String, String) {
    let subject = s.headline();
    let link = s.link();
    let Some(i) = s.incident else {
        let text = format!("{subject}\n\n{link}\n");
        let html = format!(
            "<p>{}</p><p><a href=\"{}\">Open Firewatch</a></p>",
            esc(&subject),
            esc(&link)
        );
        return (subject, text, html);
    };
    let mut text = format!(
        "{subject}\n\nSeverity: {}\nStatus: {}\nService: {}\n",
        i.severity,
        status_word(i, s.event),
        if i.service.is_empty() {
            "-"
        } else {
            &i.service
        }
    );
    if !i.description.is_empty() {
        text.push_str(&format!("\n{}\n", i.description));
    }
    text.push_str(&format!("\nIncident: {link}\n"));
    if let Some(r) = &i.runbook_url {
        text.push_str(&format!("Runbook: {r}\n"));
    }
    let runbook = i
        .runbook_url
        .as_ref()
        .map(|r| format!(" · <a href=\"{}\">Runbook</a>", esc(r)))
        .unwrap_or_default();
    let html = format!(
        "<div style=\"font-family:system-ui,sans-serif\"><p style=\"border-left:5px solid {colour};padding-left:10px\">\
         <strong>[{sev}] #{id} {title}</strong><br>{status} · service {service}</p>{desc}\
         <p><a href=\"{link}\">Open incident #{id}</a>{runbook}</p></div>",
        colour = severity_colour(i.severity),
        sev = i.severity,
        id = i.id,
        title = esc(&i.title),
        status = esc(&status_word(i, s.event)),
        service = esc(if i.service.is_empty() {
            "-"
        } else {
            &i.service
        }),
        desc = if i.description.is_empty() {
            String::new()
        } else {
            format!("<p>{}</p>", esc(&i.description))
        },
        link = esc(&link),
    );
    (subject, text, html)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The message's headers: from `smtp.from`, to the receiver's addresses.
fn builder(
    cfg: &NotifyConfig,
    r: &Receiver,
    subject: String,
) -> Result<lettre::message::MessageBuilder, Delivery> {
    let Some(smtp) = &cfg.smtp else {
        return Err(Delivery::Permanent("no [smtp] section configured".into()));
    };
    let from: Mailbox = smtp
        .from
        .parse()
        .map_err(|e| Delivery::Permanent(format!("smtp.from: {e}")))?;
    let mut builder = Message::builder().from(from).subject(subject);
    for to in &r.to {
        match to.parse::<Mailbox>() {
            Ok(m) => builder = builder.to(m),
            Err(e) => return Err(Delivery::Permanent(format!("recipient {to}: {e}"))),
        }
    }
    Ok(builder)
}

pub async fn send(cfg: &NotifyConfig, r: &Receiver, s: &Subject<'_>) -> Delivery {
    let (subject, text, html) = bodies(s);
    let builder = match builder(cfg, r, subject) {
        Ok(b) => b,
        Err(d) => return d,
    };
    match builder.multipart(MultiPart::alternative_plain_html(text, html)) {
        Ok(m) => transmit(cfg, m).await,
        Err(e) => Delivery::Permanent(format!("building the email: {e}")),
    }
}

/// The monthly report: text and HTML parts and the PDF attached.
pub struct ReportMail {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub pdf: Vec<u8>,
    pub file_name: String,
}

pub async fn send_report(cfg: &NotifyConfig, r: &Receiver, mail: ReportMail) -> Delivery {
    let builder = match builder(cfg, r, mail.subject) {
        Ok(b) => b,
        Err(d) => return d,
    };
    let pdf = ContentType::parse("application/pdf").expect("a valid content type");
    let body = MultiPart::mixed()
        .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
        .singlepart(Attachment::new(mail.file_name).body(mail.pdf, pdf));
    match builder.multipart(body) {
        Ok(m) => transmit(cfg, m).await,
        Err(e) => Delivery::Permanent(format!("building the email: {e}")),
    }
}

async fn transmit(cfg: &NotifyConfig, message: Message) -> Delivery {
    let Some(smtp) = &cfg.smtp else {
        return Delivery::Permanent("no [smtp] section configured".into());
    };
    let transport = match smtp.tls {
        SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &smtp.host,
        )),
        SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host),
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host),
    };
    let mut transport = match transport {
        Ok(t) => t.port(smtp.port).timeout(Some(cfg.timeout)),
        Err(e) => return Delivery::Permanent(format!("smtp: {e}")),
    };
    if let (Some(user), Some(pw)) = (&smtp.username, &smtp.password) {
        transport = transport.credentials(Credentials::new(user.clone(), pw.clone()));
    }
    match transport.build().send(message).await {
        Ok(_) => Delivery::Delivered,
        Err(e) if e.is_permanent() => Delivery::Permanent(format!("SMTP: {e}")),
        Err(e) => Delivery::Retry {
            error: format!("SMTP: {e}"),
            after: None,
        },
    }
}
