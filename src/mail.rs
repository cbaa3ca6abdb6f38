//! E-mail of notifications, when the server is started with `--smtp-url`
//! (off by default). Each thread whose newest activity is to be mailed is
//! `pending` in SQLite (see `db::notifications`); this task sends them
//! through the SMTP relay with lettre, tries a failed one again with a
//! growing pause, and gives up after `MAX_ATTEMPTS`.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::MailSettings as Settings;
use crate::db::Db;
use crate::db::notifications::{self as stored, Mail, Reason};
use crate::error::{Error, Result};

/// Attempts at one e-mail before it is given up.
const MAX_ATTEMPTS: i64 = 5;
/// E-mails sent in one pass.
const BATCH: u32 = 20;
/// How long one SMTP conversation may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// How often the queue is looked at.
const TICK: Duration = Duration::from_secs(2);

/// Tells the database whether mail is sent (so threads are queued for it
/// or not) and, when it is, starts the task that sends it. `base` is the
/// site's address, for the links in the e-mails.
pub async fn start(db: &Db, settings: Option<Settings>, base: String) -> Result<()> {
    let on = settings.is_some();
    db.write(move |tx| stored::set_mail(tx, on)).await?;
    let Some(settings) = settings else { return Ok(()) };
    let from: Mailbox = settings
        .from
        .parse()
        .map_err(|e| Error::invalid(format!("--smtp-from {:?} is not an e-mail address: {e}", settings.from)))?;
    let relay = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.url)
        .map_err(|e| Error::invalid(format!("--smtp-url {:?}: {e}", redact(&settings.url))))?
        .timeout(Some(TIMEOUT))
        .build();
    tracing::info!("e-mail: notifications are sent through {}", redact(&settings.url));
    let db = db.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = pass(&db, &relay, &from, &base).await {
                tracing::warn!("e-mail: {e}");
            }
            tokio::time::sleep(TICK).await;
        }
    });
    Ok(())
}

/// The relay's address without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

/// Sends what is due.
async fn pass(db: &Db, relay: &AsyncSmtpTransport<Tokio1Executor>, from: &Mailbox, base: &str) -> Result<()> {
    let now = crate::time::now();
    let due = db.write(move |tx| stored::mail_due(tx, now, BATCH)).await?;
    for mail in due {
        let (id, at) = (mail.id, mail.updated_at);
        let sent = match compose(&mail, from, base) {
            Ok(message) => relay.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => {
                // An address that cannot be written to is not tried again.
                tracing::warn!("e-mail of notification {}: {e}", id.0);
                db.write(move |tx| stored::mail_sent(tx, id, at, false)).await?;
                continue;
            }
        };
        match sent {
            Ok(()) => db.write(move |tx| stored::mail_sent(tx, id, at, true)).await?,
            Err(e) if mail.attempts + 1 >= MAX_ATTEMPTS => {
                tracing::warn!(
                    "e-mail of notification {} given up after {MAX_ATTEMPTS} attempts: {e}",
                    id.0
                );
                db.write(move |tx| stored::mail_sent(tx, id, at, false)).await?;
            }
            Err(e) => {
                let next = crate::time::now() + 30 * (1 << mail.attempts.clamp(0, 10));
                tracing::info!("e-mail of notification {} failed ({e}); tried again later", id.0);
                db.write(move |tx| stored::mail_retry(tx, id, next)).await?;
            }
        }
    }
    Ok(())
}

/// The e-mail of a thread: what happened, a link to it, and why this
/// person hears of it.
fn compose(mail: &Mail, from: &Mailbox, base: &str) -> std::result::Result<Message, String> {
    let t = &mail.thread;
    let to: Mailbox = mail.to.parse().map_err(|e| format!("the address {:?}: {e}", mail.to))?;
    let kind = match t.subject_type.as_str() {
        "Issue" => "issue",
        "PullRequest" => "pull request",
        _ => "run",
    };
    // Titles are the repository's users' words: no line breaks in a header.
    let title: String = t.title.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let body = format!(
        "{detail}\n\n{title} ({owner}/{repo}, {kind} #{n})\n{base}{path}\n\n-- \nYou hear of this because {why}.\nAll your notifications: {base}/notifications\n",
        detail = t.detail,
        owner = t.owner,
        repo = t.repo,
        n = t.subject_number,
        path = t.path(),
        why = Reason::explain(&t.reason),
    );
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(format!("[{}/{}] {title} (#{})", t.owner, t.repo, t.subject_number))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| e.to_string())
}
