//! Webhooks: a repository's hooks, the events they are sent, and the task
//! that delivers them. What happens is noted in the transaction that makes
//! it happen (`db::hooks::note`); this task turns each note into one
//! delivery per hook that wants it (its payload built from the records),
//! queued in SQLite, then sends the queue: signed, with a timeout, retried
//! with backoff, every attempt kept.

pub mod payload;
pub mod send;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::ci::secrets::{Keyring, Scope};
use crate::data_dir::DataDir;
use crate::db::Db;
use crate::db::hooks::{self as stored, Hook, HookId};
use crate::db::repos::Repo;
use crate::error::{Error, Result};
use crate::github::Site;

/// The events a hook may ask for (GitHub's names); `*` is all of them.
pub const EVENTS: &[&str] = &[
    "push",
    "create",
    "delete",
    "issues",
    "issue_comment",
    "pull_request",
    "pull_request_review",
    "workflow_run",
    "workflow_job",
    "deployment",
    "deployment_status",
    "release",
    "status",
];

/// Hooks a repository may have.
pub const MAX_HOOKS: usize = 20;
/// Attempts of one delivery before it is given up.
pub const MAX_ATTEMPTS: i64 = 6;
/// Deliveries sent at once.
const PARALLEL: usize = 8;
/// Deliveries are kept this long (GitHub keeps them 30 days).
const KEEP_SECONDS: i64 = 30 * 86_400;

/// Seconds before attempt `attempt + 1` after attempt `attempt` failed:
/// 5 s, 20 s, 80 s, 320 s, 1280 s.
pub fn backoff(attempt: i64) -> i64 {
    5 * 4i64.pow(attempt.clamp(1, 6) as u32 - 1)
}

/// What a hook is to be: checked before it is saved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: String,
    pub content_type: String,
    /// `None` keeps the secret as it is; `Some("")` removes it.
    pub secret: Option<String>,
    pub events: Vec<String>,
    pub active: bool,
}

/// The webhook service: the queue's owner and its delivery task.
#[derive(Clone)]
pub struct Hooks {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    keys: Keyring,
    data_dir: DataDir,
    site: Site,
    policy: send::Policy,
    client: reqwest::Client,
    wake: tokio::sync::Notify,
    /// Places for deliveries in flight.
    places: Arc<tokio::sync::Semaphore>,
}

impl Hooks {
    pub fn new(db: Db, keys: Keyring, data_dir: DataDir, site: Site, policy: send::Policy) -> Hooks {
        let client = policy.client();
        Hooks {
            inner: Arc::new(Inner {
                db,
                keys,
                data_dir,
                site,
                policy,
                client,
                wake: tokio::sync::Notify::new(),
                places: Arc::new(tokio::sync::Semaphore::new(PARALLEL)),
            }),
        }
    }

    pub fn site(&self) -> &Site {
        &self.inner.site
    }

    /// Something was noted: look at the queue now rather than at the next tick.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Checks `settings` (the URL against the outbound policy, the events
    /// by name) and returns them cleaned.
    pub async fn check(&self, mut settings: Settings) -> Result<Settings> {
        let url = settings.url.trim().to_string();
        if url.len() > 2048 {
            return Err(Error::Unprocessable("a webhook URL has at most 2048 characters".into()));
        }
        self.inner.policy.check(&url).await.map_err(Error::Unprocessable)?;
        settings.url = url;
        if !matches!(settings.content_type.as_str(), "json" | "form") {
            return Err(Error::Unprocessable(format!(
                "content_type must be json or form, not {:?}",
                settings.content_type
            )));
        }
        let mut events: Vec<String> = Vec::new();
        for e in &settings.events {
            let e = e.trim();
            if e != "*" && !EVENTS.contains(&e) {
                return Err(Error::Unprocessable(format!(
                    "{e:?} is not an event a hook can be sent; the events are {} (or * for all)",
                    EVENTS.join(", ")
                )));
            }
            if !events.iter().any(|x| x == e) {
                events.push(e.to_string());
            }
        }
        if events.is_empty() {
            events.push("push".into());
        }
        settings.events = events;
        if let Some(s) = &settings.secret
            && s.len() > 1024
        {
            return Err(Error::Unprocessable("a webhook secret has at most 1024 bytes".into()));
        }
        Ok(settings)
    }

    /// Creates a hook on `repo` and sends it a `ping`.
    pub async fn create(&self, repo: &Repo, settings: Settings) -> Result<Hook> {
        let s = self.check(settings).await?;
        let (repo_id, keys) = (repo.id, self.inner.keys.clone());
        let hook = self
            .inner
            .db
            .write(move |tx| {
                if stored::list(tx, repo_id)?.len() >= MAX_HOOKS {
                    return Err(Error::invalid(format!("a repository has at most {MAX_HOOKS} webhooks")));
                }
                let id = stored::insert(
                    tx,
                    repo_id,
                    &stored::Settings {
                        url: &s.url,
                        content_type: &s.content_type,
                        events: &s.events,
                        active: s.active,
                    },
                )?;
                set_secret(tx, &keys, repo_id, id, s.secret.as_deref())?;
                stored::get(tx, repo_id, id)?.ok_or(Error::NotFound)
            })
            .await?;
        self.ping(repo, &hook).await?;
        Ok(hook)
    }

    pub async fn update(&self, repo: &Repo, id: HookId, settings: Settings) -> Result<Hook> {
        let s = self.check(settings).await?;
        let (repo_id, keys) = (repo.id, self.inner.keys.clone());
        self.inner
            .db
            .write(move |tx| {
                stored::get(tx, repo_id, id)?.ok_or(Error::NotFound)?;
                stored::update(
                    tx,
                    id,
                    &stored::Settings {
                        url: &s.url,
                        content_type: &s.content_type,
                        events: &s.events,
                        active: s.active,
                    },
                )?;
                if s.secret.is_some() {
                    set_secret(tx, &keys, repo_id, id, s.secret.as_deref())?;
                }
                stored::get(tx, repo_id, id)?.ok_or(Error::NotFound)
            })
            .await
    }

    /// Queues GitHub's `ping` to `hook`: its `zen`, the hook, the repository.
    pub async fn ping(&self, repo: &Repo, hook: &Hook) -> Result<()> {
        let site = self.inner.site.clone();
        let (repo, hook) = (repo.clone(), hook.clone());
        self.inner
            .db
            .write(move |tx| {
                let owner = github_owner(tx, &site, &repo)?;
                let facts = crate::github::RepoFacts::load(tx, &repo)?;
                let body = json!({
                    "zen": "Keep it logically awesome.",
                    "hook_id": hook.id,
                    "hook": hook_json(&site, &repo, &hook, None),
                    "repository": crate::github::repository(&site, &repo, &owner, &facts),
                    "sender": owner,
                });
                stored::enqueue(tx, hook.id, &new_guid(), "ping", None, &body.to_string(), false)?;
                Ok(())
            })
            .await?;
        self.wake();
        Ok(())
    }

    /// Queues `delivery` again, as GitHub's Redeliver does: a new delivery
    /// of the same payload, marked `redelivery`.
    pub async fn redeliver(&self, hook: HookId, delivery: i64) -> Result<i64> {
        let id = self
            .inner
            .db
            .write(move |tx| {
                let d = stored::delivery(tx, hook, delivery)?.ok_or(Error::NotFound)?;
                stored::enqueue(tx, hook, &new_guid(), &d.event, d.action.as_deref(), &d.payload, true)
            })
            .await?;
        self.wake();
        Ok(id)
    }

    /// Starts the delivery task. It runs until the server stops; a delivery
    /// cut off by a stop is sent again at the next start.
    pub fn start(&self) {
        let hooks = self.clone();
        tokio::spawn(async move {
            let mut last_prune = 0;
            loop {
                if let Err(e) = hooks.turn().await {
                    tracing::error!("webhooks: {e}");
                }
                let now = crate::time::now();
                if now - last_prune > 3600 {
                    last_prune = now;
                    let db = hooks.inner.db.clone();
                    match db.write(move |tx| stored::prune(tx, now - KEEP_SECONDS)).await {
                        Ok(n) if n > 0 => tracing::info!("webhooks: forgot {n} deliveries older than 30 days"),
                        Ok(_) => {}
                        Err(e) => tracing::error!("webhooks: pruning old deliveries: {e}"),
                    }
                }
                let _ = tokio::time::timeout(Duration::from_secs(1), hooks.inner.wake.notified()).await;
            }
        });
    }

    /// One turn of the task: notes become deliveries, and the due ones go,
    /// as many at once as there are free places; a receiver that hangs
    /// holds one place until it times out, never the queue.
    async fn turn(&self) -> Result<()> {
        self.queue_noted().await?;
        let free = self.inner.places.available_permits();
        if free == 0 {
            return Ok(());
        }
        let now = crate::time::now();
        let due = self
            .inner
            .db
            .write(move |tx| {
                let due = stored::due(tx, now, free as u32)?;
                // Leased: a delivery cut off (the server stopped) is due again later.
                for d in &due {
                    tx.execute(
                        "UPDATE hook_deliveries SET next_attempt_at = ?2 WHERE id = ?1",
                        rusqlite::params![d.id, now + send::TIMEOUT.as_secs() as i64 * 6],
                    )?;
                }
                Ok(due)
            })
            .await?;
        for d in due {
            let hooks = self.clone();
            let place = self.inner.places.clone().acquire_owned().await;
            tokio::spawn(async move {
                let _place = place;
                if let Err(e) = hooks.deliver(d).await {
                    tracing::error!("webhooks: {e}");
                }
                hooks.wake();
            });
        }
        Ok(())
    }

    /// Turns the noted events into deliveries, each note in one transaction.
    async fn queue_noted(&self) -> Result<()> {
        loop {
            let (site, data_dir) = (self.inner.site.clone(), self.inner.data_dir.clone());
            let made = self
                .inner
                .db
                .write(move |tx| {
                    let noted = stored::noted(tx, 20)?;
                    for n in &noted {
                        let payloads = match payload::build(tx, &site, &data_dir, n) {
                            Ok(p) => p,
                            Err(e) => {
                                tracing::error!("webhooks: the {} event of {:?}: {e}", n.event, n.subject);
                                Vec::new()
                            }
                        };
                        let hooks = stored::list(tx, n.repo_id)?;
                        for p in &payloads {
                            let body = p.body.to_string();
                            for h in hooks.iter().filter(|h| h.active && h.wants(p.event)) {
                                stored::enqueue(tx, h.id, &new_guid(), p.event, p.action.as_deref(), &body, false)?;
                            }
                        }
                        stored::forget_noted(tx, n.id)?;
                    }
                    Ok(noted.len())
                })
                .await?;
            if made < 20 {
                return Ok(());
            }
        }
    }

    async fn deliver(&self, d: stored::Delivery) -> Result<()> {
        let db = &self.inner.db;
        let hook_id = d.hook_id;
        let Some(hook) = db.read(move |c| stored::by_id(c, hook_id)).await? else {
            return Ok(());
        };
        let secret = if hook.has_secret() {
            let name = secret_name(hook.id);
            Some(
                self.inner
                    .keys
                    .open_value(Scope::Repo(hook.repo_id), &name, &hook.secret_nonce, &hook.secret)?,
            )
        } else {
            None
        };
        let (content_type, body) = match hook.content_type.as_str() {
            "form" => (
                "application/x-www-form-urlencoded",
                format!("payload={}", form_encode(&d.payload)).into_bytes(),
            ),
            _ => ("application/json", d.payload.clone().into_bytes()),
        };
        let mut headers = vec![
            ("Accept".to_string(), "*/*".to_string()),
            ("Content-Type".to_string(), content_type.to_string()),
            ("X-GitHub-Event".to_string(), d.event.clone()),
            ("X-GitHub-Delivery".to_string(), d.guid.clone()),
            ("X-GitHub-Hook-ID".to_string(), hook.id.to_string()),
            (
                "X-GitHub-Hook-Installation-Target-Type".to_string(),
                "repository".to_string(),
            ),
            (
                "X-GitHub-Hook-Installation-Target-ID".to_string(),
                hook.repo_id.0.to_string(),
            ),
        ];
        if let Some(s) = &secret {
            headers.push(("X-Hub-Signature-256".to_string(), send::signature(s.as_bytes(), &body)));
        }
        let outcome = send::post(&self.inner.policy, &self.inner.client, &hook.url, headers, body).await;
        let attempt = d.attempts + 1;
        let retry_at = (outcome.retry && attempt < MAX_ATTEMPTS).then(|| crate::time::now() + backoff(attempt));
        if !outcome.error.is_empty() {
            let then = match retry_at {
                Some(at) => format!("trying again in {} s", at - crate::time::now()),
                None => "given up".to_string(),
            };
            tracing::warn!(
                "webhook {} ({}): delivery {} of {} failed (attempt {attempt}): {}; {then}",
                hook.id,
                hook.url,
                d.guid,
                d.event,
                outcome.error
            );
        }
        let headers_json = |h: &[(String, String)]| {
            let mut m = serde_json::Map::new();
            for (k, v) in h {
                m.insert(k.clone(), Value::String(v.clone()));
            }
            Value::Object(m).to_string()
        };
        let record = stored::Attempt {
            attempt,
            started_at: outcome.started_at,
            duration_ms: outcome.duration_ms,
            status_code: outcome.status_code.map(i64::from),
            error: outcome.error.clone(),
            request_headers: headers_json(&outcome.request_headers),
            response_headers: headers_json(&outcome.response_headers),
            response_body: outcome.response_body.clone(),
        };
        let id = d.id;
        db.write(move |tx| stored::record_attempt(tx, id, &record, retry_at))
            .await
    }
}

fn secret_name(hook: HookId) -> String {
    format!("hook/{hook}")
}

/// Seals and stores a hook's secret; `None` or empty removes it.
fn set_secret(
    tx: &rusqlite::Connection,
    keys: &Keyring,
    repo: crate::db::repos::RepoId,
    id: HookId,
    secret: Option<&str>,
) -> Result<()> {
    match secret.filter(|s| !s.is_empty()) {
        Some(s) => {
            let (nonce, sealed) = keys.seal(Scope::Repo(repo), &secret_name(id), s)?;
            stored::set_secret(tx, id, &nonce, &sealed)
        }
        None => stored::set_secret(tx, id, &[], &[]),
    }
}

fn github_owner(conn: &rusqlite::Connection, site: &Site, repo: &Repo) -> Result<Value> {
    let people = crate::github::People::load(conn, [repo.owner.as_str()])?;
    Ok(people.user(site, &repo.owner))
}

/// A delivery's id, as GitHub's: a random UUID.
fn new_guid() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the random source works");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `application/x-www-form-urlencoded` of a value.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A hook as GitHub's API and `ping` show it.
pub fn hook_json(site: &Site, repo: &Repo, hook: &Hook, last: Option<&stored::Delivery>) -> Value {
    let url = format!("{}/hooks/{}", site.api(repo), hook.id);
    let mut config = json!({
        "content_type": hook.content_type,
        "url": hook.url,
        "insecure_ssl": "0",
    });
    if hook.has_secret() {
        config["secret"] = json!("********");
    }
    let last_response = match last {
        Some(d) if d.state == "delivered" => json!({ "code": d.status_code, "status": "active", "message": "OK" }),
        Some(d) => json!({ "code": d.status_code, "status": "failed", "message": d.status }),
        None => json!({ "code": null, "status": "unused", "message": null }),
    };
    json!({
        "type": "Repository",
        "id": hook.id,
        "name": "web",
        "active": hook.active,
        "events": hook.events,
        "config": config,
        "updated_at": crate::time::rfc3339(hook.updated_at),
        "created_at": crate::time::rfc3339(hook.created_at),
        "url": url,
        "test_url": format!("{url}/test"),
        "ping_url": format!("{url}/pings"),
        "deliveries_url": format!("{url}/deliveries"),
        "last_response": last_response,
    })
}

/// A delivery as GitHub's API lists it; `full` adds the request and response.
pub fn delivery_json(d: &stored::Delivery, repo: &Repo, attempts: Option<&[stored::Attempt]>) -> Value {
    let mut out = json!({
        "id": d.id,
        "guid": d.guid,
        "delivered_at": crate::time::rfc3339(d.delivered_at.unwrap_or(d.created_at)),
        "redelivery": d.redelivery,
        "duration": d.duration_ms.map(|ms| ms as f64 / 1000.0),
        "status": match d.state.as_str() {
            "delivered" => "OK".to_string(),
            "pending" if d.attempts == 0 => "Pending".to_string(),
            _ => d.status.clone(),
        },
        "status_code": d.status_code.unwrap_or(0),
        "event": d.event,
        "action": d.action,
        "installation_id": null,
        "repository_id": repo.id.0,
        "throttled_at": null,
        "attempts": d.attempts,
        "state": d.state,
        "next_attempt_at": d.next_attempt_at.map(crate::time::rfc3339),
    });
    if let Some(attempts) = attempts {
        let last = attempts.last();
        let parse = |t: &str| serde_json::from_str::<Value>(t).unwrap_or(json!({}));
        out["request"] = json!({
            "headers": last.map(|a| parse(&a.request_headers)),
            "payload": serde_json::from_str::<Value>(&d.payload).unwrap_or(Value::Null),
        });
        out["response"] = json!({
            "headers": last.map(|a| parse(&a.response_headers)),
            "payload": last.map(|a| a.response_body.clone()),
        });
        out["attempt_log"] = attempts
            .iter()
            .map(|a| {
                json!({
                    "attempt": a.attempt,
                    "started_at": crate::time::rfc3339(a.started_at),
                    "duration_ms": a.duration_ms,
                    "status_code": a.status_code,
                    "error": a.error,
                })
            })
            .collect();
    }
    out
}

/// Everything the settings page and the API show of a repository's hooks.
pub async fn list(db: &Db, repo: &Repo) -> Result<Vec<(Hook, Option<stored::Delivery>)>> {
    let id = repo.id;
    db.read(move |c| {
        stored::list(c, id)?
            .into_iter()
            .map(|h| {
                let last = stored::last_delivery(c, h.id)?;
                Ok((h, last))
            })
            .collect()
    })
    .await
}

pub async fn delete(db: &Db, repo: &Repo, id: HookId) -> Result<()> {
    let repo_id = repo.id;
    if db.write(move |tx| stored::delete(tx, repo_id, id)).await? {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// The payload's parts GitHub clients read as text, for the deliveries list.
pub fn summary(d: &stored::Delivery) -> String {
    match &d.action {
        Some(a) => format!("{}.{a}", d.event),
        None => d.event.clone(),
    }
}
