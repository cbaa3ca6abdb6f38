//! Workflow expressions, `${{ … }}`: literals, context paths
//! (`github.sha`, `needs.build.result`, `env['X']`), the operators
//! `! == != < <= > >= && ||` and parentheses, and the functions
//! `success() failure() always() cancelled() contains() startsWith()
//! endsWith() format() join() toJSON() fromJSON()`. Values are JSON values.
//! Pure: parsing and evaluating touch nothing outside.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Value),
    /// A context name and the property path below it.
    Path(String, Vec<Index>),
    Not(Box<Expr>),
    Binary(Box<Expr>, Op, Box<Expr>),
    Call(String, Vec<Expr>),
    /// Properties of what a call or parentheses give: `fromJSON(x).a[0]`.
    Member(Box<Expr>, Vec<Index>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Index {
    Key(String),
    Expr(Box<Expr>),
    /// `.*`: every element (or member value); what follows applies to each.
    All,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

const CONTEXTS: &[&str] = &[
    "github", "env", "job", "jobs", "steps", "runner", "matrix", "strategy", "needs", "inputs", "secrets", "vars",
];
const FUNCTIONS: &[&str] = &[
    "success",
    "failure",
    "always",
    "cancelled",
    "contains",
    "startswith",
    "endswith",
    "format",
    "join",
    "tojson",
    "fromjson",
    "hashfiles",
];

/// The state of the job so far, for the status functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failure,
    Cancelled,
}

impl Status {
    /// What the status functions see of a job that has come to `so_far`:
    /// a cancel or a timeout is `cancelled()`, anything else that is not
    /// a success `failure()`.
    pub fn of(so_far: crate::state::Conclusion) -> Status {
        use crate::state::Conclusion;
        match so_far {
            Conclusion::Success => Status::Success,
            c if c.interrupted() => Status::Cancelled,
            _ => Status::Failure,
        }
    }
}

/// What `hashFiles()` calls: patterns in, the hash out.
pub type FileHasher<'a> = dyn Fn(&[String]) -> String + Sync + 'a;

pub struct Context<'a> {
    /// An object with one member per context name.
    pub values: &'a Value,
    pub status: Status,
    /// `hashFiles(patterns…)`: where there is a workspace, the hash of the
    /// files matching the patterns ("" when none match).
    pub files: Option<&'a FileHasher<'a>>,
}

impl<'a> Context<'a> {
    pub fn new(values: &'a Value, status: Status) -> Context<'a> {
        Context {
            values,
            status,
            files: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok<'a> {
    Num(f64),
    Str(&'a str),
    Ident(&'a str),
    Sym(&'a str),
}

fn tokens(src: &str) -> Result<Vec<Tok<'_>>, String> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'\'' {
            // 'it''s' is one string with a quote in it.
            let start = i + 1;
            let mut j = start;
            loop {
                match b.get(j) {
                    None => return Err("a string is not closed".into()),
                    Some(b'\'') if b.get(j + 1) == Some(&b'\'') => j += 2,
                    Some(b'\'') => break,
                    Some(_) => j += 1,
                }
            }
            out.push(Tok::Str(&src[start..j]));
            i = j + 1;
        } else if c.is_ascii_digit() || (c == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            let text = &src[start..i];
            let n = if let Some(hex) = text.strip_prefix("0x") {
                i64::from_str_radix(hex, 16)
                    .map(|n| n as f64)
                    .map_err(|_| format!("not a number: {text}"))?
            } else {
                text.parse::<f64>().map_err(|_| format!("not a number: {text}"))?
            };
            out.push(Tok::Num(n));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-') {
                i += 1;
            }
            out.push(Tok::Ident(&src[start..i]));
        } else {
            let two = src.get(i..i + 2).unwrap_or("");
            if ["==", "!=", "<=", ">=", "&&", "||"].contains(&two) {
                out.push(Tok::Sym(two));
                i += 2;
            } else if b"!<>()[].,*".contains(&c) {
                out.push(Tok::Sym(&src[i..i + 1]));
                i += 1;
            } else {
                return Err(format!("unexpected character {:?}", c as char));
            }
        }
    }
    Ok(out)
}

/// GitHub's longest expression ("Exceeded max expression length 21000").
pub const MAX_EXPRESSION_BYTES: usize = 21_000;
/// Parentheses, calls and indexes nest this deep at most.
const MAX_DEPTH: usize = 64;
/// Operators (`&&`, `==`…) in one expression, which nest the tree too.
const MAX_OPERATORS: usize = 256;

struct Parser<'a> {
    toks: Vec<Tok<'a>>,
    at: usize,
    depth: usize,
    operators: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.at).copied()
    }

    fn eat(&mut self, sym: &str) -> bool {
        if self.peek() == Some(Tok::Sym(sym)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, sym: &str) -> Result<(), String> {
        if self.eat(sym) {
            Ok(())
        } else {
            Err(format!("expected `{sym}`"))
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("the expression is nested more than {MAX_DEPTH} deep"));
        }
        let mut left = self.and()?;
        while self.eat("||") {
            self.operator()?;
            left = Expr::Binary(Box::new(left), Op::Or, Box::new(self.and()?));
        }
        self.depth -= 1;
        Ok(left)
    }

    /// Counts an operator; a long chain of them nests the tree as deep.
    fn operator(&mut self) -> Result<(), String> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return Err(format!("the expression has more than {MAX_OPERATORS} operators"));
        }
        Ok(())
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.cmp()?;
        while self.eat("&&") {
            self.operator()?;
            left = Expr::Binary(Box::new(left), Op::And, Box::new(self.cmp()?));
        }
        Ok(left)
    }

    fn cmp(&mut self) -> Result<Expr, String> {
        let left = self.unary()?;
        let op = match self.peek() {
            Some(Tok::Sym("==")) => Op::Eq,
            Some(Tok::Sym("!=")) => Op::Ne,
            Some(Tok::Sym("<")) => Op::Lt,
            Some(Tok::Sym("<=")) => Op::Le,
            Some(Tok::Sym(">")) => Op::Gt,
            Some(Tok::Sym(">=")) => Op::Ge,
            _ => return Ok(left),
        };
        self.at += 1;
        self.operator()?;
        Ok(Expr::Binary(Box::new(left), op, Box::new(self.unary()?)))
    }

    /// `!` any number of times, read in a loop: `!!!x` is `!x`, `!!x` is `!!x`.
    fn unary(&mut self) -> Result<Expr, String> {
        let mut nots = 0usize;
        while self.eat("!") {
            nots += 1;
        }
        let inner = self.primary()?;
        Ok(match nots {
            0 => inner,
            n if n % 2 == 1 => Expr::Not(Box::new(inner)),
            _ => Expr::Not(Box::new(Expr::Not(Box::new(inner)))),
        })
    }

    /// `.key`, `.*` and `[index]` after `name`, as many as follow.
    fn properties(&mut self, name: &str) -> Result<Vec<Index>, String> {
        let mut path = Vec::new();
        loop {
            if path.len() >= MAX_OPERATORS {
                return Err(format!("{name}: more than {MAX_OPERATORS} properties in a row"));
            }
            if self.eat(".") {
                match self.peek() {
                    Some(Tok::Ident(k)) => {
                        self.at += 1;
                        path.push(Index::Key(k.to_string()));
                    }
                    Some(Tok::Sym("*")) => {
                        self.at += 1;
                        path.push(Index::All);
                    }
                    _ => return Err(format!("expected a property name after {name}.")),
                }
            } else if self.eat("[") {
                path.push(Index::Expr(Box::new(self.or()?)));
                self.expect("]")?;
            } else {
                return Ok(path);
            }
        }
    }

    /// `e`, or its properties when some follow.
    fn member_of(&mut self, e: Expr, name: &str) -> Result<Expr, String> {
        let path = self.properties(name)?;
        Ok(if path.is_empty() {
            e
        } else {
            Expr::Member(Box::new(e), path)
        })
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let tok = self.peek().ok_or("the expression ends too early")?;
        self.at += 1;
        match tok {
            Tok::Num(n) => Ok(Expr::Literal(serde_json::json!(n))),
            Tok::Str(s) => Ok(Expr::Literal(Value::String(s.replace("''", "'")))),
            Tok::Sym("(") => {
                let e = self.or()?;
                self.expect(")")?;
                self.member_of(e, "(…)")
            }
            Tok::Ident(name) => match name {
                "true" => Ok(Expr::Literal(Value::Bool(true))),
                "false" => Ok(Expr::Literal(Value::Bool(false))),
                "null" => Ok(Expr::Literal(Value::Null)),
                _ if self.eat("(") => {
                    let lower = name.to_ascii_lowercase();
                    if !FUNCTIONS.contains(&lower.as_str()) {
                        return Err(format!("unknown function {name}()"));
                    }
                    let mut args = Vec::new();
                    if !self.eat(")") {
                        loop {
                            args.push(self.or()?);
                            if self.eat(")") {
                                break;
                            }
                            self.expect(",")?;
                        }
                    }
                    self.member_of(Expr::Call(lower, args), name)
                }
                _ => {
                    if !CONTEXTS.contains(&name) {
                        return Err(format!("unknown context {name:?}"));
                    }
                    let path = self.properties(name)?;
                    Ok(Expr::Path(name.to_string(), path))
                }
            },
            Tok::Sym(s) => Err(format!("unexpected `{s}`")),
        }
    }
}

/// `v.key` or `v[index]`; null where there is nothing.
fn member(v: &Value, key: &Value) -> Value {
    match (v, key) {
        (Value::Object(m), Value::String(k)) => m
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null),
        (Value::Array(a), k) => a.get(number(k) as usize).cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// Parses the inside of one `${{ … }}`.
pub fn parse(src: &str) -> Result<Expr, String> {
    if src.len() > MAX_EXPRESSION_BYTES {
        return Err(format!(
            "the expression is longer than {MAX_EXPRESSION_BYTES} characters"
        ));
    }
    let mut p = Parser {
        toks: tokens(src)?,
        at: 0,
        depth: 0,
        operators: 0,
    };
    let e = p.or()?;
    if p.at != p.toks.len() {
        return Err(format!("unexpected text after the expression in {src:?}"));
    }
    Ok(e)
}

/// The `${{ … }}` parts of a text, each parsed.
pub fn parse_all(text: &str) -> Result<Vec<Expr>, String> {
    pieces(text)?.into_iter().filter_map(|p| p.err()).map(parse).collect()
}

/// A text split into its literal parts (Ok) and expressions (Err, the source).
fn pieces(text: &str) -> Result<Vec<Result<&str, &str>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push(Ok(&rest[..start]));
        let after = &rest[start + 3..];
        let end = after.find("}}").ok_or("a `${{` is not closed with `}}`")?;
        out.push(Err(after[..end].trim()));
        rest = &after[end + 2..];
    }
    out.push(Ok(rest));
    Ok(out)
}

/// Replaces every `${{ … }}` in `text` with its value as text.
pub fn interpolate(text: &str, ctx: &Context) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text)? {
        match piece {
            Ok(literal) => out.push_str(literal),
            Err(src) => out.push_str(&to_text(&eval(&parse(src)?, ctx)?)),
        }
    }
    Ok(out)
}

/// An `if:`: with or without `${{ }}`; without a status function it means
/// `success() && (…)`.
pub fn condition(text: &str, ctx: &Context) -> Result<bool, String> {
    let t = text.trim();
    let src = t.strip_prefix("${{").and_then(|s| s.strip_suffix("}}")).unwrap_or(t);
    let e = parse(src)?;
    let value = truthy(&eval(&e, ctx)?);
    Ok(if uses_status(&e) {
        value
    } else {
        value && ctx.status == Status::Success
    })
}

fn uses_status(e: &Expr) -> bool {
    match e {
        Expr::Call(name, args) => {
            ["success", "failure", "always", "cancelled"].contains(&name.as_str()) || args.iter().any(uses_status)
        }
        Expr::Not(inner) => uses_status(inner),
        Expr::Binary(a, _, b) => uses_status(a) || uses_status(b),
        Expr::Path(_, path) => path.iter().any(|i| matches!(i, Index::Expr(e) if uses_status(e))),
        Expr::Member(inner, path) => {
            uses_status(inner) || path.iter().any(|i| matches!(i, Index::Expr(e) if uses_status(e)))
        }
        Expr::Literal(_) => false,
    }
}

pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

pub fn to_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) if s.trim().is_empty() => 0.0,
        Value::String(s) => s.trim().parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// Loose equality as GitHub's: strings case-insensitively, else as numbers.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Value::Null, Value::Null) => true,
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => a == b,
        _ => number(a) == number(b),
    }
}

/// The value at `path` below `v`.
fn walk(mut v: Value, path: &[Index], ctx: &Context) -> Result<Value, String> {
    // After a `.*`, v holds the filtered values and each step applies to every one.
    let mut filtered = false;
    for index in path {
        let key = match index {
            Index::Key(k) => Value::String(k.clone()),
            Index::Expr(e) => eval(e, ctx)?,
            Index::All => {
                let children = |v: &Value| match v {
                    Value::Array(a) => a.clone(),
                    Value::Object(m) => m.values().cloned().collect(),
                    _ => Vec::new(),
                };
                v = Value::Array(if filtered {
                    v.as_array()
                        .map(|a| a.iter().flat_map(children).collect())
                        .unwrap_or_default()
                } else {
                    children(&v)
                });
                filtered = true;
                continue;
            }
        };
        v = if filtered {
            let items = v.as_array().cloned().unwrap_or_default();
            Value::Array(
                items
                    .iter()
                    .map(|item| member(item, &key))
                    .filter(|x| !x.is_null())
                    .collect(),
            )
        } else {
            member(&v, &key)
        };
    }
    Ok(v)
}

pub fn eval(e: &Expr, ctx: &Context) -> Result<Value, String> {
    Ok(match e {
        Expr::Literal(v) => v.clone(),
        Expr::Path(name, path) => walk(ctx.values.get(name).cloned().unwrap_or(Value::Null), path, ctx)?,
        Expr::Member(inner, path) => walk(eval(inner, ctx)?, path, ctx)?,
        Expr::Not(inner) => Value::Bool(!truthy(&eval(inner, ctx)?)),
        Expr::Binary(a, Op::And, b) => {
            let left = eval(a, ctx)?;
            if truthy(&left) { eval(b, ctx)? } else { left }
        }
        Expr::Binary(a, Op::Or, b) => {
            let left = eval(a, ctx)?;
            if truthy(&left) { left } else { eval(b, ctx)? }
        }
        Expr::Binary(a, op, b) => {
            let (x, y) = (eval(a, ctx)?, eval(b, ctx)?);
            Value::Bool(match op {
                Op::Eq => equal(&x, &y),
                Op::Ne => !equal(&x, &y),
                Op::Lt => number(&x) < number(&y),
                Op::Le => number(&x) <= number(&y),
                Op::Gt => number(&x) > number(&y),
                Op::Ge => number(&x) >= number(&y),
                Op::And | Op::Or => unreachable!("handled above"),
            })
        }
        Expr::Call(name, args) => {
            let values = args.iter().map(|a| eval(a, ctx)).collect::<Result<Vec<_>, _>>()?;
            let arity = |n: usize| {
                if values.len() == n {
                    Ok(())
                } else {
                    Err(format!("{name}() takes {n} argument{}", if n == 1 { "" } else { "s" }))
                }
            };
            match name.as_str() {
                "success" => Value::Bool(ctx.status == Status::Success),
                "failure" => Value::Bool(ctx.status == Status::Failure),
                "cancelled" => Value::Bool(ctx.status == Status::Cancelled),
                "always" => Value::Bool(true),
                "contains" => {
                    arity(2)?;
                    Value::Bool(match &values[0] {
                        Value::Array(items) => items.iter().any(|i| equal(i, &values[1])),
                        hay => to_text(hay)
                            .to_lowercase()
                            .contains(&to_text(&values[1]).to_lowercase()),
                    })
                }
                "startswith" => {
                    arity(2)?;
                    Value::Bool(
                        to_text(&values[0])
                            .to_lowercase()
                            .starts_with(&to_text(&values[1]).to_lowercase()),
                    )
                }
                "endswith" => {
                    arity(2)?;
                    Value::Bool(
                        to_text(&values[0])
                            .to_lowercase()
                            .ends_with(&to_text(&values[1]).to_lowercase()),
                    )
                }
                "format" => {
                    let template = to_text(values.first().ok_or("format() needs a format string")?);
                    let mut out = template.replace("{{", "\u{0}").replace("}}", "\u{1}");
                    for (i, v) in values.iter().enumerate().skip(1) {
                        out = out.replace(&format!("{{{}}}", i - 1), &to_text(v));
                    }
                    Value::String(out.replace('\u{0}', "{").replace('\u{1}', "}"))
                }
                "join" => {
                    let sep = values.get(1).map(to_text).unwrap_or_else(|| ",".into());
                    match values.first() {
                        Some(Value::Array(items)) => {
                            Value::String(items.iter().map(to_text).collect::<Vec<_>>().join(&sep))
                        }
                        Some(v) => Value::String(to_text(v)),
                        None => return Err("join() needs an array".into()),
                    }
                }
                "tojson" => {
                    arity(1)?;
                    Value::String(serde_json::to_string_pretty(&values[0]).unwrap_or_default())
                }
                "fromjson" => {
                    arity(1)?;
                    serde_json::from_str(&to_text(&values[0])).map_err(|e| format!("fromJSON(): {e}"))?
                }
                "hashfiles" => {
                    let hash = ctx.files.ok_or("hashFiles() needs a workspace: it works in steps")?;
                    if values.is_empty() {
                        return Err("hashFiles() needs at least one pattern".into());
                    }
                    Value::String(hash(&values.iter().map(to_text).collect::<Vec<_>>()))
                }
                other => return Err(format!("unknown function {other}()")),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(values: &Value, status: Status) -> Context<'_> {
        Context::new(values, status)
    }

    #[test]
    fn evaluates() {
        let v = json!({"github": {"ref_name": "main", "sha": "abc"}, "env": {"N": "3"}, "needs": {"build": {"result": "success"}}});
        let c = ctx(&v, Status::Success);
        let e = |s: &str| eval(&parse(s).unwrap(), &c).unwrap();
        assert_eq!(e("github.ref_name == 'MAIN'"), json!(true));
        assert_eq!(e("env.N > 2 && env['N'] < 4"), json!(true));
        assert_eq!(e("needs.build.result"), json!("success"));
        assert_eq!(e("format('{0}-{1} {{x}}', github.sha, 1)"), json!("abc-1 {x}"));
        assert_eq!(e("contains(fromJSON('[\"a\",\"b\"]'), 'B')"), json!(true));
        assert_eq!(e("startsWith(github.ref_name, 'ma') || false"), json!(true));
        assert_eq!(e("!github.nope"), json!(true));
        assert_eq!(e("'it''s'"), json!("it's"));
        // Properties of what a function or parentheses give.
        assert_eq!(e("fromJSON('{\"a\": [1, {\"b\": 2}]}').a[1].b"), json!(2));
        assert_eq!(e("fromJson('[\"x\", \"y\"]')[1]"), json!("y"));
        assert_eq!(e("(github.nope || fromJSON('{\"t\": \"v1\"}')).t"), json!("v1"));
        assert!(parse("fromJSON('{}').").is_err());
        let items = json!({"needs": {"a": {"result": "success"}, "b": {"result": "failure"}},
                           "github": {"event": {"commits": [{"id": 1, "m": "x"}, {"id": 2}]}}});
        let c2 = ctx(&items, Status::Success);
        let e2 = |s: &str| eval(&parse(s).unwrap(), &c2).unwrap();
        assert_eq!(e2("needs.*.result"), json!(["success", "failure"]));
        assert_eq!(e2("contains(needs.*.result, 'failure')"), json!(true));
        assert_eq!(e2("github.event.commits.*.m"), json!(["x"]));
        assert_eq!(e2("github.event.commits.*.*"), json!([1, "x", 2]));
        assert_eq!(
            interpolate("sha=${{ github.sha }} n=${{ env.N }}", &c).unwrap(),
            "sha=abc n=3"
        );
    }

    #[test]
    fn conditions_default_to_success() {
        let v = json!({"github": {"ref_name": "main"}});
        assert!(condition("github.ref_name == 'main'", &ctx(&v, Status::Success)).unwrap());
        assert!(!condition("github.ref_name == 'main'", &ctx(&v, Status::Failure)).unwrap());
        assert!(condition("${{ failure() }}", &ctx(&v, Status::Failure)).unwrap());
        assert!(condition("always()", &ctx(&v, Status::Cancelled)).unwrap());
        assert!(!condition("success()", &ctx(&v, Status::Failure)).unwrap());
    }

    #[test]
    fn hostile_expressions_are_refused_without_recursing() {
        let values = json!({});
        let bang = format!("{} true", "!".repeat(900_000));
        assert!(parse(&bang).unwrap_err().contains("longer than 21000"));
        let bang = format!("{} true", "!".repeat(20_000));
        assert_eq!(
            eval(&parse(&bang).unwrap(), &ctx(&values, Status::Success)).unwrap(),
            json!(true)
        );
        let bang = format!("{} true", "!".repeat(19_999));
        assert_eq!(
            eval(&parse(&bang).unwrap(), &ctx(&values, Status::Success)).unwrap(),
            json!(false)
        );
        let parens = format!("{}true{}", "(".repeat(5_000), ")".repeat(5_000));
        assert!(parse(&parens).unwrap_err().contains("nested more than 64"));
        let chain = vec!["true"; 2_000].join(" || ");
        assert!(parse(&chain).unwrap_err().contains("more than 256 operators"));
        let chain = vec!["true"; 5_000].join(" == ");
        assert!(parse(&chain).is_err());
        let path = format!("github{}", ".a".repeat(5_000));
        assert!(parse(&path).unwrap_err().contains("properties in a row"));
        let index = format!("github{}", "[0]".repeat(5_000));
        assert!(parse(&index).is_err());
        let calls = format!("{}1{}", "format(".repeat(5_000), ")".repeat(5_000));
        assert!(parse(&calls).is_err());
    }

    #[test]
    fn rejects_what_is_not_an_expression() {
        for bad in [
            "",
            "github.",
            "foo.bar",
            "nosuch()",
            "'open",
            "1 +",
            "(a",
            "a b",
            "github.*.",
            "github.**",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(
            parse(&format!("{}1{}", "(".repeat(100), ")".repeat(100))).is_err(),
            "nesting is bounded"
        );
        assert!(parse_all("x ${{ github.sha").is_err());
    }
}
