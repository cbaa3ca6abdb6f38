//! `strategy.matrix`: the combinations of a job's axes, `include` and
//! `exclude`, and one job instance per combination.

use super::raw::RawStrategy;
use super::{Job, MAX_JOBS, Strategy};

/// One job per combination of `strategy`'s matrix, each named after its
/// values and told its place (`strategy.job-index`).
pub(super) fn instances(job: &Job, strategy: &RawStrategy) -> Result<Vec<Job>, String> {
    use super::raw::Scalar;
    let (fail_fast, fail_fast_if) = match &strategy.fail_fast {
        None => (true, None),
        Some(Scalar::Bool(b)) => (*b, None),
        Some(Scalar::Text(t)) if t.contains("${{") => {
            super::check::check_condition(t).map_err(|m| format!("strategy.fail-fast: {m}"))?;
            (true, Some(t.clone()))
        }
        Some(Scalar::Text(t)) if t == "true" || t == "false" => (t == "true", None),
        Some(_) => return Err("strategy.fail-fast: true, false or an expression".into()),
    };
    let (max_parallel, max_parallel_if) = match &strategy.max_parallel {
        None => (None, None),
        Some(Scalar::Number(n)) => match n.as_u64() {
            Some(n @ 1..=256) => (Some(n as u32), None),
            _ => return Err("strategy.max-parallel: a number from 1 to 256".into()),
        },
        Some(Scalar::Text(t)) if t.contains("${{") => {
            super::check::check_condition(t).map_err(|m| format!("strategy.max-parallel: {m}"))?;
            (None, Some(t.clone()))
        }
        Some(_) => return Err("strategy.max-parallel: a number from 1 to 256, or an expression".into()),
    };
    let strategy_of = |index, total| Strategy {
        fail_fast,
        max_parallel,
        fail_fast_if: fail_fast_if.clone(),
        max_parallel_if: max_parallel_if.clone(),
        job_index: index,
        job_total: total,
    };
    let matrix: indexmap::IndexMap<String, serde_yaml_ng::Value> = match &strategy.matrix {
        None => return Ok(vec![job.clone()]),
        // Known once the job's needs are done: one job until then.
        Some(serde_yaml_ng::Value::String(e)) if e.contains("${{") => {
            super::check::check_condition(e).map_err(|m| format!("strategy.matrix: {m}"))?;
            let mut later = job.clone();
            later.matrix_from = Some(e.clone());
            later.strategy = Some(strategy_of(0, 1));
            return Ok(vec![later]);
        }
        Some(other) => serde_yaml_ng::from_value(other.clone())
            .map_err(|_| "strategy.matrix: a mapping of axes, or an expression (`${{ fromJSON(…) }}`)".to_string())?,
    };
    expand_into(job, &matrix, strategy_of)
}

/// The instances of `job` for `matrix` (its `fromJSON(…)`, known now).
pub fn expand_later(job: &Job, matrix: &serde_json::Value) -> Result<Vec<Job>, String> {
    let axes: indexmap::IndexMap<String, serde_yaml_ng::Value> = match matrix {
        serde_json::Value::Object(_) => serde_yaml_ng::to_value(matrix)
            .and_then(serde_yaml_ng::from_value)
            .map_err(|e| e.to_string())?,
        _ => return Err(format!("strategy.matrix gives {matrix}, not a mapping of axes")),
    };
    let mut base = job.clone();
    base.matrix_from = None;
    let known = job.strategy.clone();
    expand_into(&base, &axes, |index, total| Strategy {
        job_index: index,
        job_total: total,
        ..known.clone().unwrap_or(Strategy {
            fail_fast: true,
            max_parallel: None,
            fail_fast_if: None,
            max_parallel_if: None,
            job_index: 0,
            job_total: 1,
        })
    })
}

fn expand_into(
    job: &Job,
    matrix: &indexmap::IndexMap<String, serde_yaml_ng::Value>,
    strategy_of: impl Fn(usize, usize) -> Strategy,
) -> Result<Vec<Job>, String> {
    let combos = expand_matrix(matrix).map_err(|m| format!("strategy.matrix: {m}"))?;
    let total = combos.len();
    let mut out = Vec::with_capacity(total);
    for (index, values) in combos.into_iter().enumerate() {
        let mut instance = job.clone();
        instance.strategy = Some(strategy_of(index, total));
        // In the order of the axes, then what `include` added.
        let axes = matrix.keys().filter(|k| *k != "include" && *k != "exclude");
        let mut order: Vec<&String> = axes.filter(|k| values.contains_key(*k)).collect();
        order.extend(values.keys().filter(|k| !matrix.contains_key(*k)));
        let shown: Vec<String> = order.iter().map(|k| json_text(&values[*k])).collect();
        // A name with expressions says itself which instance it is (`${{ matrix.name }}`).
        if !job.name.contains("${{") {
            instance.name = format!("{} ({})", job.name, shown.join(", "));
        }
        instance.matrix = Some(values);
        out.push(instance);
    }
    Ok(out)
}

pub(super) fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The combinations of a `strategy.matrix`: the product of its axes, less
/// `exclude`, plus `include` (which extends matching combinations or adds
/// new ones), at most `MAX_JOBS`.
pub(super) fn expand_matrix(
    matrix: &indexmap::IndexMap<String, serde_yaml_ng::Value>,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, String> {
    use serde_json::{Map, Value};
    let to_json = |v: &serde_yaml_ng::Value| serde_json::to_value(v).map_err(|e| e.to_string());
    let list_of_maps = |v: &serde_yaml_ng::Value| -> Result<Vec<Map<String, Value>>, String> {
        match to_json(v)? {
            Value::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    Value::Object(m) => Ok(m),
                    _ => Err("include and exclude take a list of mappings".to_string()),
                })
                .collect(),
            _ => Err("include and exclude take a list of mappings".into()),
        }
    };
    let mut combos: Vec<Map<String, Value>> = vec![Map::new()];
    let (mut include, mut exclude) = (Vec::new(), Vec::new());
    for (axis, values) in matrix {
        match axis.as_str() {
            "include" => include = list_of_maps(values)?,
            "exclude" => exclude = list_of_maps(values)?,
            _ => {
                let Value::Array(items) = to_json(values)? else {
                    return Err(format!("{axis} takes a list of values"));
                };
                if items.is_empty() {
                    return Err(format!("{axis} has no values"));
                }
                let mut next = Vec::new();
                for combo in &combos {
                    for item in &items {
                        let mut c = combo.clone();
                        c.insert(axis.clone(), item.clone());
                        next.push(c);
                        if next.len() > MAX_JOBS {
                            return Err(format!("more than {MAX_JOBS} combinations"));
                        }
                    }
                }
                combos = next;
            }
        }
    }
    combos.retain(|c| !exclude.iter().any(|ex| ex.iter().all(|(k, v)| c.get(k) == Some(v))));
    if combos.len() == 1 && combos[0].is_empty() {
        combos.clear();
    }
    for inc in include {
        // An include extends the combinations it agrees with on the original axes.
        let mut matched = false;
        for c in combos.iter_mut() {
            let agrees = inc
                .iter()
                .all(|(k, v)| c.get(k).is_none_or(|cv| cv == v) || !matrix.contains_key(k));
            if agrees && inc.keys().any(|k| c.contains_key(k)) {
                for (k, v) in &inc {
                    c.entry(k.clone()).or_insert_with(|| v.clone());
                }
                matched = true;
            }
        }
        if !matched {
            combos.push(inc);
        }
    }
    if combos.is_empty() {
        return Err("no combinations".into());
    }
    if combos.len() > MAX_JOBS {
        return Err(format!("more than {MAX_JOBS} combinations"));
    }
    Ok(combos)
}
