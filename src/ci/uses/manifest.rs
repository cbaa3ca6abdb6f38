//! `action.yml`: what an action takes (`inputs`), gives (`outputs`) and
//! runs (`runs`: JavaScript with `node`, a composite of steps, or Docker).
//! Keys GitHub's runner ignores (`branding`, `author`…) are ignored here too.

use serde::Deserialize;

/// `action.yml` may be this large.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub name: Option<String>,
    #[serde(default)]
    pub inputs: indexmap::IndexMap<String, InputSpec>,
    #[serde(default)]
    pub outputs: indexmap::IndexMap<String, OutputSpec>,
    pub runs: Runs,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InputSpec {
    pub default: Option<serde_yaml_ng::Value>,
    #[serde(rename = "deprecationMessage")]
    pub deprecation_message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OutputSpec {
    /// A composite action's output: an expression over its steps.
    pub value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Runs {
    pub using: String,
    pub main: Option<String>,
    pub pre: Option<String>,
    pub post: Option<String>,
    #[serde(rename = "pre-if")]
    pub pre_if: Option<String>,
    #[serde(rename = "post-if")]
    pub post_if: Option<String>,
    /// A composite action's steps, read as a workflow's steps are.
    pub steps: Option<serde_yaml_ng::Value>,
    pub image: Option<String>,
}

/// What kind of action a manifest describes.
pub enum Kind<'a> {
    /// `node12` to `node24`: run with the host's `node`.
    Node {
        main: &'a str,
    },
    Composite(&'a serde_yaml_ng::Value),
    Docker(&'a str),
}

impl Manifest {
    /// Reads `action.yml` (or `action.yaml`) in `dir`; an error says what is wrong.
    pub fn read(dir: &std::path::Path) -> Result<Manifest, String> {
        let file = ["action.yml", "action.yaml"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file())
            .ok_or("it has no action.yml")?;
        let bytes = super::super::helper::paths::read_regular(&file, MAX_MANIFEST_BYTES)?;
        Manifest::parse(&bytes)
    }

    /// Reads the bytes of an `action.yml`; an error says what is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let bytes = bytes.to_vec();
        let text = String::from_utf8(bytes).map_err(|_| "action.yml is not UTF-8".to_string())?;
        let manifest: Manifest = serde_yaml_ng::from_str(&text)
            .map_err(|e| format!("action.yml: {}", super::super::workflow::plain_yaml_error(&e)))?;
        manifest.kind()?;
        Ok(manifest)
    }

    pub fn kind(&self) -> Result<Kind<'_>, String> {
        match self.runs.using.as_str() {
            "node12" | "node16" | "node20" | "node24" => {
                let main = self.runs.main.as_deref().ok_or("runs.main is missing")?;
                for script in [Some(main), self.runs.pre.as_deref(), self.runs.post.as_deref()]
                    .into_iter()
                    .flatten()
                {
                    inside_action(script)?;
                }
                Ok(Kind::Node { main })
            }
            "composite" => Ok(Kind::Composite(
                self.runs.steps.as_ref().ok_or("runs.steps is missing")?,
            )),
            "docker" => Ok(Kind::Docker(self.runs.image.as_deref().unwrap_or("?"))),
            other => Err(format!(
                "runs.using {other:?} is not one of node12, node16, node20, node24, composite, docker"
            )),
        }
    }
}

/// A script path of a JavaScript action stays inside the action.
pub fn inside_action(script: &str) -> Result<(), String> {
    if script.starts_with('/') || script.split('/').any(|c| c == "..") {
        return Err(format!("{script:?} is not a file of the action"));
    }
    Ok(())
}

/// A `default:` or `with:` value as text.
pub fn text(v: &serde_yaml_ng::Value) -> String {
    match v {
        serde_yaml_ng::Value::String(s) => s.clone(),
        serde_yaml_ng::Value::Bool(b) => b.to_string(),
        serde_yaml_ng::Value::Number(n) => n.to_string(),
        serde_yaml_ng::Value::Null => String::new(),
        other => serde_yaml_ng::to_string(other)
            .unwrap_or_default()
            .trim_end()
            .to_string(),
    }
}
