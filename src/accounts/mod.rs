//! Accounts: creating users, checking passwords and tokens, sessions.
//! Passwords are hashed with argon2id; tokens and session secrets are 256
//! random bits, so a SHA-256 of them is enough to store.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

use crate::db::users::{User, UserId};
use crate::db::{self, Db};
use crate::error::{Context, Error, Result};
use crate::repos::validate_user_name;

pub mod guard;
pub use guard::Passwords;

pub const MIN_PASSWORD_LEN: usize = 8;
/// How long a browser session lasts.
pub const SESSION_SECONDS: i64 = 30 * 24 * 3600;
/// Prefix of every personal access token, so leaked ones are easy to find.
pub const TOKEN_PREFIX: &str = "hth_";

/// 32 random bytes as 64 hex characters.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    to_hex(&bytes)
}

pub fn sha256_hex(text: &str) -> String {
    to_hex(&Sha256::digest(text.as_bytes()))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).context("random source")?;
    let salt = SaltString::encode_b64(&salt).context("salt")?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .context("hashing a password")?
        .to_string())
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A fixed hash checked when the user does not exist, so that a failed
/// sign-in takes as long whether or not the name is known.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("not a password anyone has").expect("hashing works"))
}

pub fn check_password_rules(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Error::invalid(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    if password.len() > 1024 {
        return Err(Error::invalid("the password is too long (1024 bytes at most)"));
    }
    Ok(())
}

/// Who a new account is made by, which decides whether it is an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Maker {
    /// An administrator (page or command line), saying whether it is one too.
    Admin { admin: bool },
    /// The person themselves at /register: the first account of the site
    /// becomes its admin; when `only_first`, no other may register.
    Themselves { only_first: bool },
}

/// Creates a user.
pub async fn create_user(
    db: &Db,
    passwords: &Passwords,
    name: &str,
    email: Option<&str>,
    password: &str,
    maker: Maker,
) -> Result<User> {
    validate_user_name(name)?;
    check_password_rules(password)?;
    let email = email.map(str::trim).filter(|e| !e.is_empty());
    if let Some(e) = email
        && (!e.contains('@') || e.len() > 254 || e.chars().any(char::is_whitespace))
    {
        return Err(Error::invalid(format!("{e:?} is not an e-mail address")));
    }
    let hash = {
        let password = password.to_string();
        passwords.hash(move || hash_password(&password)).await??
    };
    let (name, email) = (name.to_string(), email.map(str::to_string));
    db.write(move |tx| {
        let first = db::users::count(tx)? == 0;
        let is_admin = match maker {
            Maker::Admin { admin } => admin,
            Maker::Themselves { only_first: true } if !first => {
                return Err(Error::Forbidden(
                    "registration is closed on this server: ask an administrator for an account".into(),
                ));
            }
            Maker::Themselves { .. } => first,
        };
        let id = db::users::insert(tx, &name, email.as_deref(), &hash, is_admin)?;
        Ok(User {
            id,
            name,
            email,
            is_admin,
            created_at: crate::time::now(),
        })
    })
    .await
}

/// The user with this name and password, or `None`. Which of the two was
/// wrong is not told. Failures count against the account and `client`;
/// too many, and the attempt is refused before any hashing (429).
pub async fn authenticate(
    db: &Db,
    passwords: &Passwords,
    name: &str,
    password: &str,
    client: Option<std::net::IpAddr>,
) -> Result<Option<User>> {
    if name.len() > 100 || password.len() > 1024 {
        return Ok(None);
    }
    let _turn = passwords.turn(name).await;
    passwords.check(name, client)?;
    let lookup = name.to_string();
    let found = db.read(move |c| db::users::with_password(c, &lookup)).await?;
    let password = password.to_string();
    let user = passwords
        .hash(move || match found {
            Some((user, hash)) => verify_password(&password, &hash).then_some(user),
            None => {
                verify_password(&password, decoy_hash());
                None
            }
        })
        .await?;
    if user.is_none() {
        passwords.failed(name, client);
    }
    Ok(user)
}

/// Creates a personal access token and returns it; only its hash is kept.
pub async fn create_token(db: &Db, user: UserId, label: &str) -> Result<String> {
    let label = label.trim();
    if label.is_empty() || label.len() > 100 {
        return Err(Error::invalid("give the token a name of 1 to 100 characters"));
    }
    let token = format!("{TOKEN_PREFIX}{}", new_secret());
    let hash = sha256_hex(&token);
    let hint = token[token.len() - 4..].to_string();
    let label = label.to_string();
    db.write(move |tx| db::tokens::insert(tx, user, &label, &hash, &hint))
        .await?;
    Ok(token)
}

/// The owner of a personal access token. Marks the token as used, at most
/// once an hour, so that checking tokens rarely writes.
pub async fn token_user(db: &Db, token: &str) -> Result<Option<User>> {
    if token.len() > 200 {
        return Ok(None);
    }
    let hash = sha256_hex(token);
    let found = db.read(move |c| db::tokens::user(c, &hash)).await?;
    let Some((user, token_id, last_used)) = found else {
        return Ok(None);
    };
    if last_used.is_none_or(|t| crate::time::now() - t > 3600) {
        db.write(move |tx| db::tokens::mark_used(tx, token_id)).await?;
    }
    Ok(Some(user))
}

/// Password or token, as git and API clients send them in HTTP Basic. A
/// secret shaped like a token is only ever checked as one: a wrong token
/// costs a SHA-256, never argon2.
pub async fn basic_auth(
    db: &Db,
    passwords: &Passwords,
    name: &str,
    secret: &str,
    client: Option<std::net::IpAddr>,
) -> Result<Option<User>> {
    if secret.starts_with(TOKEN_PREFIX) {
        let user = token_user(db, secret).await?;
        return Ok(user.filter(|user| {
            user.name.eq_ignore_ascii_case(name) || ["", "token", "x-access-token", "oauth2"].contains(&name)
        }));
    }
    authenticate(db, passwords, name, secret, client).await
}

/// Starts a browser session; returns the cookie secret.
pub async fn start_session(db: &Db, user: UserId) -> Result<String> {
    let secret = new_secret();
    let hash = sha256_hex(&secret);
    db.write(move |tx| db::sessions::insert(tx, &hash, user, crate::time::now() + SESSION_SECONDS))
        .await?;
    Ok(secret)
}

pub async fn session_user(db: &Db, secret: &str) -> Result<Option<User>> {
    if secret.len() != 64 {
        return Ok(None);
    }
    let hash = sha256_hex(secret);
    db.read(move |c| db::sessions::user(c, &hash)).await
}

pub async fn end_session(db: &Db, secret: &str) -> Result<()> {
    let hash = sha256_hex(secret);
    db.write(move |tx| db::sessions::delete(tx, &hash)).await
}
