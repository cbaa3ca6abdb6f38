//! `strategy.matrix`: the combinations of a job's axes, `include` and
//! `exclude`, and one job instance per combination.

use super::raw::RawStrategy;
use super::{Job, MAX_JOBS, Strategy};

/// One job per combination of `strategy`'s matrix, each named after its
/// values and told its place (`strategy.job-index`).
pub(super) fn instances(job: &Job, strategy: &RawStrategy) -> Result<Vec<Job>, String> {
    if strategy.max_parallel == Some(0) {
        return Err("strategy.max-parallel: at least 1".into());
    }
    let Some(matrix) = &strategy.matrix else {
        return Ok(vec![job.clone()]);
    };
    let combos = expand_matrix(matrix).map_err(|m| format!("strategy.matrix: {m}"))?;
    let total = combos.len();
    let mut out = Vec::with_capacity(total);
    for (index, values) in combos.into_iter().enumerate() {
        let mut instance = job.clone();
        instance.strategy = Some(Strategy {
            fail_fast: strategy.fail_fast.unwrap_or(true),
            max_parallel: strategy.max_parallel,
            job_index: index,
            job_total: total,
        });
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
