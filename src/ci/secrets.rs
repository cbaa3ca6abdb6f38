//! Repository and environment secrets: sealed with XChaCha20-Poly1305
//! under a key kept in `data/secrets.key` (created with mode 0600 on first
//! start), so the database alone does not reveal them. Where a secret
//! belongs (its repository, and its environment) and its name are the
//! associated data: a sealed value cannot be moved to another secret.

use std::collections::BTreeMap;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::db::environments::EnvironmentId;
use crate::db::repos::RepoId;
use crate::db::{self, Db};
use crate::error::{Context, Error, Result};

/// Values larger than this are refused (GitHub's limit).
pub const MAX_VALUE_BYTES: usize = 48 * 1024;

/// Where a secret belongs.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    Repo(RepoId),
    Environment(RepoId, EnvironmentId),
}

impl From<RepoId> for Scope {
    fn from(repo: RepoId) -> Scope {
        Scope::Repo(repo)
    }
}

#[derive(Clone)]
pub struct Keyring {
    cipher: XChaCha20Poly1305,
}

impl Keyring {
    /// Reads `data/secrets.key`, creating it on first use.
    pub fn open(data_dir: &crate::data_dir::DataDir) -> Result<Keyring> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = data_dir.secrets_key();
        let key = match std::fs::read(&path) {
            Ok(k) if k.len() == 32 => k,
            Ok(_) => return Err(Error::internal(format!("{} is not a 32-byte key", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut k = [0u8; 32];
                getrandom::fill(&mut k).context("random source")?;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)?;
                f.write_all(&k)?;
                f.sync_all()?;
                k.to_vec()
            }
            Err(e) => return Err(e.into()),
        };
        let cipher = XChaCha20Poly1305::new_from_slice(&key).context("secret key")?;
        Ok(Keyring { cipher })
    }

    fn aad(scope: Scope, name: &str) -> Vec<u8> {
        match scope {
            Scope::Repo(repo) => format!("{}/{name}", repo.0).into_bytes(),
            Scope::Environment(repo, env) => format!("{}/environments/{}/{name}", repo.0, env.0).into_bytes(),
        }
    }

    pub fn seal(&self, scope: impl Into<Scope>, name: &str, value: &str) -> Result<(Vec<u8>, Vec<u8>)> {
        let scope = scope.into();
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).context("random source")?;
        let aad = Self::aad(scope, name);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: value.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| Error::internal("sealing a secret failed"))?;
        Ok((nonce.to_vec(), sealed))
    }

    pub fn open_value(&self, scope: impl Into<Scope>, name: &str, nonce: &[u8], sealed: &[u8]) -> Result<String> {
        if nonce.len() != 24 {
            return Err(Error::internal(format!("secret {name}: bad nonce")));
        }
        let aad = Self::aad(scope.into(), name);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: &aad })
            .map_err(|_| Error::internal(format!("secret {name} could not be opened (was secrets.key replaced?)")))?;
        String::from_utf8(plain).map_err(|_| Error::internal(format!("secret {name} is not text")))
    }
}

/// `[A-Z_][A-Z0-9_]*`, upper-cased, not starting with GITHUB_ or HEARTH_.
pub fn check_name(name: &str) -> Result<String> {
    let upper = name.trim().to_ascii_uppercase();
    let ok = !upper.is_empty()
        && upper.len() <= 100
        && !upper.as_bytes()[0].is_ascii_digit()
        && upper.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !upper.starts_with("GITHUB_")
        && !upper.starts_with("HEARTH_");
    if ok {
        Ok(upper)
    } else {
        Err(Error::invalid(
            "a secret name has letters, digits and '_', does not start with a digit, GITHUB_ or HEARTH_",
        ))
    }
}

/// A variable's name follows the rules of secret names; its value is at
/// most 48 KiB, as GitHub allows.
pub fn check_variable(name: &str, value: &str) -> Result<String> {
    let name = check_name(name).map_err(|_| {
        Error::invalid("a variable name has letters, digits and '_', does not start with a digit, GITHUB_ or HEARTH_")
    })?;
    if value.len() > MAX_VALUE_BYTES {
        return Err(Error::TooLarge("a variable holds at most 48 KiB".into()));
    }
    Ok(name)
}

fn check_value(value: &str) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(Error::TooLarge(format!(
            "a secret holds at most {} KiB",
            MAX_VALUE_BYTES >> 10
        )));
    }
    Ok(())
}

pub async fn put(db: &Db, keys: &Keyring, repo: RepoId, name: &str, value: &str) -> Result<bool> {
    let name = check_name(name)?;
    check_value(value)?;
    let (nonce, sealed) = keys.seal(repo, &name, value)?;
    db.write(move |tx| db::secrets::put(tx, repo, &name, &nonce, &sealed))
        .await
}

/// All secrets of a repository, opened, for its jobs.
pub async fn values(db: &Db, keys: &Keyring, repo: RepoId) -> Result<BTreeMap<String, String>> {
    let sealed = db.read(move |c| db::secrets::all(c, repo)).await?;
    sealed
        .into_iter()
        .map(|s| Ok((s.name.clone(), keys.open_value(repo, &s.name, &s.nonce, &s.ciphertext)?)))
        .collect()
}

/// Sets a secret of environment `env` of `repo`; true when it was new.
pub async fn put_for_environment(
    db: &Db,
    keys: &Keyring,
    repo: RepoId,
    env: EnvironmentId,
    name: &str,
    value: &str,
) -> Result<bool> {
    let name = check_name(name)?;
    check_value(value)?;
    let (nonce, sealed) = keys.seal(Scope::Environment(repo, env), &name, value)?;
    db.write(move |tx| db::environments::put_secret(tx, env, &name, &nonce, &sealed))
        .await
}

/// What a job deploying to `env` reads: the repository's secrets with the
/// environment's over them, and the environment's variables.
pub async fn for_environment(
    db: &Db,
    keys: &Keyring,
    repo: RepoId,
    env: &str,
) -> Result<(BTreeMap<String, String>, BTreeMap<String, String>)> {
    let mut secrets = values(db, keys, repo).await?;
    let name = env.to_string();
    let found = db
        .read(move |c| {
            let Some(e) = db::environments::by_name(c, repo, &name)? else {
                return Ok(None);
            };
            Ok(Some((
                e.id,
                db::environments::secrets(c, e.id)?,
                db::environments::variables(c, e.id)?,
            )))
        })
        .await?;
    let mut vars = BTreeMap::new();
    if let Some((id, sealed, variables)) = found {
        for s in sealed {
            let value = keys.open_value(Scope::Environment(repo, id), &s.name, &s.nonce, &s.ciphertext)?;
            secrets.insert(s.name, value);
        }
        vars.extend(variables.into_iter().map(|v| (v.name, v.value)));
    }
    Ok((secrets, vars))
}
