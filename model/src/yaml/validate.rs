//! YAML-only validation on the model's property values (so it holds after edits too):
//! constraints (equal, greater_than, greater_or_equal, less_than, less_or_equal, in_range,
//! valid_values, length, min_length, max_length, pattern), scalar-units (B…TiB, ns…d, Hz…GHz,
//! bps…Tbps) and data types derived from primitives. Called from
//! [`crate::validate::validate_service_template`] for node types read from YAML.

use super::{Constraint, PropDef, TypeInfo};
use crate::diagnostic::Diagnostic;
use crate::library::Library;
use crate::tosca::properties::input_name;
use crate::tosca::{ServiceTemplate, TypeKind};
use serde_json::Value as J;
use std::collections::HashMap;
use std::path::PathBuf;

const SIZE: &[(&str, f64)] = &[
    ("B", 1.0),
    ("kB", 1e3),
    ("KiB", 1024.0),
    ("MB", 1e6),
    ("MiB", 1048576.0),
    ("GB", 1e9),
    ("GiB", 1073741824.0),
    ("TB", 1e12),
    ("TiB", 1099511627776.0),
];
const TIME: &[(&str, f64)] = &[
    ("d", 86400.0),
    ("h", 3600.0),
    ("m", 60.0),
    ("s", 1.0),
    ("ms", 1e-3),
    ("us", 1e-6),
    ("ns", 1e-9),
];
const FREQUENCY: &[(&str, f64)] = &[("Hz", 1.0), ("kHz", 1e3), ("MHz", 1e6), ("GHz", 1e9)];
const BITRATE: &[(&str, f64)] = &[
    ("bps", 1.0),
    ("Kbps", 1e3),
    ("Kibps", 1024.0),
    ("Mbps", 1e6),
    ("Mibps", 1048576.0),
    ("Gbps", 1e9),
    ("Gibps", 1073741824.0),
    ("Tbps", 1e12),
    ("Tibps", 1099511627776.0),
];

/// A scalar-unit value (`512 MB`, `2.4 GHz`, `30 s`) in its base unit.
pub fn scalar_unit(type_name: &str, s: &str) -> Result<f64, String> {
    let units = match type_name {
        "scalar-unit.size" => SIZE,
        "scalar-unit.time" => TIME,
        "scalar-unit.frequency" => FREQUENCY,
        "scalar-unit.bitrate" => BITRATE,
        _ => return Err(format!("unknown scalar-unit type {type_name}")),
    };
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e'))
        .unwrap_or(s.len());
    let (num, unit) = (s[..split].trim(), s[split..].trim());
    let n: f64 = num.parse().map_err(|_| {
        format!(
            "'{s}' is not a {type_name} (a number and a unit, e.g. '{}')",
            example(type_name)
        )
    })?;
    // Units are case-insensitive in practice (tosca-parser accepts 'mb').
    let factor = units
        .iter()
        .find(|(u, _)| *u == unit)
        .or_else(|| units.iter().find(|(u, _)| u.eq_ignore_ascii_case(unit)))
        .map(|(_, f)| *f)
        .ok_or_else(|| {
            format!(
                "'{s}' has unit '{unit}', not one of {}",
                units.iter().map(|(u, _)| *u).collect::<Vec<_>>().join(", ")
            )
        })?;
    Ok(n * factor)
}

fn example(t: &str) -> &'static str {
    match t {
        "scalar-unit.size" => "512 MB",
        "scalar-unit.time" => "30 s",
        "scalar-unit.frequency" => "2.4 GHz",
        _ => "100 Mbps",
    }
}

/// A TOSCA version `major.minor[.fix[.qualifier[-build]]]`.
pub fn parse_version(s: &str) -> Option<Vec<u64>> {
    let s = s.trim();
    let (main, _build) = s.split_once('-').unwrap_or((s, ""));
    let parts: Vec<&str> = main.split('.').collect();
    if parts.len() < 2 || parts.len() > 4 {
        return None;
    }
    let nums: Option<Vec<u64>> = parts.iter().take(3).map(|p| p.parse().ok()).collect();
    nums
}

/// Compiles a `pattern` constraint (whole-value match, bounded size: no catastrophic cases);
/// compiled patterns are cached per thread.
pub fn compile_pattern(p: &str) -> Result<regex::Regex, String> {
    thread_local! {
        static CACHE: std::cell::RefCell<HashMap<String, regex::Regex>> = Default::default();
    }
    if let Some(r) = CACHE.with(|c| c.borrow().get(p).cloned()) {
        return Ok(r);
    }
    let r = regex::RegexBuilder::new(&format!("^(?:{p})$"))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| e.to_string())?;
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 256 {
            c.clear();
        }
        c.insert(p.to_string(), r.clone());
    });
    Ok(r)
}

/// A comparable number for a value of `type_name`.
fn number(v: &J, type_name: &str) -> Option<f64> {
    match v {
        J::Number(n) => n.as_f64(),
        J::String(s) if type_name.starts_with("scalar-unit.") => scalar_unit(type_name, s).ok(),
        J::String(s) if type_name == "version" => {
            parse_version(s).map(|p| p.iter().fold(0.0, |acc, x| acc * 1e6 + *x as f64))
        }
        J::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn same(a: &J, b: &J, type_name: &str) -> bool {
    match (number(a, type_name), number(b, type_name)) {
        (Some(x), Some(y)) => (x - y).abs() <= f64::EPSILON * x.abs().max(y.abs()).max(1.0),
        _ => a == b || (a.as_str().is_some() && a.as_str() == b.as_str()),
    }
}

fn show(v: &J) -> String {
    match v {
        J::String(s) => s.clone(),
        o => o.to_string(),
    }
}

/// Checks one constraint on a value of `type_name`; the error says what was expected.
pub fn check_constraint(c: &Constraint, v: &J, type_name: &str) -> Result<(), String> {
    let cmp = |op: &str| -> Result<(), String> {
        let (Some(x), Some(y)) = (number(v, type_name), number(&c.arg, type_name)) else {
            return Err(format!(
                "{} cannot be compared with {}",
                show(v),
                show(&c.arg)
            ));
        };
        let ok = match op {
            "greater_than" => x > y,
            "greater_or_equal" => x >= y,
            "less_than" => x < y,
            _ => x <= y,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{} violates {op}: {}", show(v), show(&c.arg)))
        }
    };
    let len = || match v {
        J::String(s) => Some(s.chars().count()),
        J::Array(a) => Some(a.len()),
        J::Object(o) => Some(o.len()),
        _ => None,
    };
    let want = c.arg.as_u64().map(|n| n as usize);
    match c.op.as_str() {
        "equal" => {
            if same(v, &c.arg, type_name) {
                Ok(())
            } else {
                Err(format!("{} is not equal to {}", show(v), show(&c.arg)))
            }
        }
        op @ ("greater_than" | "greater_or_equal" | "less_than" | "less_or_equal") => cmp(op),
        "in_range" => {
            let (Some(lo), Some(hi)) = (c.arg.get(0), c.arg.get(1)) else {
                return Ok(());
            };
            let x = number(v, type_name);
            let l = number(lo, type_name);
            let h = if hi.as_str() == Some("UNBOUNDED") {
                Some(f64::INFINITY)
            } else {
                number(hi, type_name)
            };
            match (x, l, h) {
                (Some(x), Some(l), Some(h)) if x >= l && x <= h => Ok(()),
                _ => Err(format!(
                    "{} is not in range [{}, {}]",
                    show(v),
                    show(lo),
                    show(hi)
                )),
            }
        }
        "valid_values" => {
            let vals = c.arg.as_array().cloned().unwrap_or_default();
            if vals.iter().any(|a| same(v, a, type_name)) {
                Ok(())
            } else {
                Err(format!(
                    "{} is not one of {}",
                    show(v),
                    vals.iter().map(show).collect::<Vec<_>>().join(", ")
                ))
            }
        }
        op @ ("length" | "min_length" | "max_length") => {
            let (Some(n), Some(w)) = (len(), want) else {
                return Err(format!("{} has no length", show(v)));
            };
            let ok = match op {
                "length" => n == w,
                "min_length" => n >= w,
                _ => n <= w,
            };
            if ok {
                Ok(())
            } else {
                Err(format!("{} has length {n}, violating {op}: {w}", show(v)))
            }
        }
        "pattern" => {
            let p = c.arg.as_str().unwrap_or_default();
            let s = v.as_str().map(str::to_string).unwrap_or_else(|| show(v));
            match compile_pattern(p) {
                Ok(re) if re.is_match(&s) => Ok(()),
                Ok(_) => Err(format!("'{s}' does not match pattern {p}")),
                Err(e) => Err(format!("pattern {p}: {e}")),
            }
        }
        _ => Ok(()),
    }
}

/// A model property string as a typed JSON value (numbers, booleans, JSON lists/maps).
fn typed(s: &str, type_name: &str) -> J {
    match type_name {
        "integer" | "float" => serde_json::from_str::<J>(s.trim()).unwrap_or(J::String(s.into())),
        "boolean" => match s.trim() {
            "true" => J::Bool(true),
            "false" => J::Bool(false),
            _ => J::String(s.into()),
        },
        "list" | "map" => serde_json::from_str::<J>(s).unwrap_or(J::String(s.into())),
        _ => J::String(s.to_string()),
    }
}

/// Every data type of the YAML files of `lib`.
fn data_types(lib: &Library) -> HashMap<&str, &super::DataType> {
    let mut out = HashMap::new();
    for f in lib.files() {
        if let Some(y) = f.definitions.yaml_source() {
            for (k, v) in &y.info.data_types {
                out.entry(k.as_str()).or_insert(v);
            }
        }
    }
    out
}

/// The primitive a data type derives from, with the constraints along the way.
fn primitive_of<'a>(
    dts: &HashMap<&str, &'a super::DataType>,
    t: &str,
) -> (String, Vec<&'a Constraint>) {
    let mut cs = Vec::new();
    let mut cur = t.to_string();
    for _ in 0..32 {
        let Some(d) = dts.get(cur.as_str()) else {
            break;
        };
        cs.extend(d.constraints.iter());
        match &d.derived_from {
            Some(p) => cur = p.clone(),
            None => break,
        }
    }
    (cur, cs)
}

fn yaml_prop_defs<'a>(lib: &'a Library, t: &crate::QName) -> Vec<(&'a PropDef, &'a TypeInfo)> {
    let mut out: Vec<(&PropDef, &TypeInfo)> = Vec::new();
    for a in lib.ancestry(TypeKind::NodeType, t) {
        let Some(loc) = lib.locate(TypeKind::NodeType, &a) else {
            continue;
        };
        let Some(y) = lib.file(loc.file).definitions.yaml_source() else {
            continue;
        };
        for p in y
            .info
            .properties
            .get(&super::full_name(&a))
            .into_iter()
            .flatten()
        {
            if !out.iter().any(|(o, _)| o.name == p.name) {
                out.push((p, &y.info));
            }
        }
    }
    out
}

/// Constraint, scalar-unit and derived-type checks of node template properties whose node types
/// were read from YAML; positions point at the value when it was read from YAML.
pub fn check_service_template(
    lib: &Library,
    st: &ServiceTemplate,
    file: Option<PathBuf>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let st_source = file
        .as_ref()
        .and_then(|f| lib.files().iter().find(|s| &s.path == f))
        .and_then(|s| s.definitions.yaml_source());
    let originals: HashMap<&str, &crate::tosca::NodeTemplate> = st_source
        .and_then(|s| s.original.as_ref())
        .map(|o| {
            o.node_templates
                .iter()
                .map(|n| (n.id.as_str(), n))
                .collect()
        })
        .unwrap_or_default();
    let mut dts: Option<HashMap<&str, &super::DataType>> = None;
    let mut cache: HashMap<&crate::QName, Vec<(&PropDef, &TypeInfo)>> = HashMap::new();
    for n in &st.topology.node_templates {
        let defs = cache
            .entry(&n.type_ref)
            .or_insert_with(|| yaml_prop_defs(lib, &n.type_ref));
        if defs.is_empty() {
            continue;
        }
        let dts = dts.get_or_insert_with(|| data_types(lib));
        for (def, _) in defs.iter() {
            let Some(value) = n.property(&def.name) else {
                continue;
            };
            if value.trim().is_empty() && def.type_name != "string" || input_name(value).is_some() {
                continue;
            }
            if value.starts_with("{\"get_")
                || value.starts_with("{\"concat")
                || value.starts_with("{\"token")
            {
                continue; // an intrinsic function, resolved at deploy time
            }
            let (prim, extra) = primitive_of(dts, &def.type_name);
            let (line, col) = st_source
                .and_then(|s| s.value_pos.get(&(n.id.clone(), def.name.clone())).copied())
                .filter(|_| {
                    originals
                        .get(n.id.as_str())
                        .and_then(|o| o.property(&def.name))
                        == Some(value)
                })
                .unwrap_or((n.line, 0));
            let at = |d: Diagnostic| d.at_col(file.clone(), line, col);
            if prim.starts_with("scalar-unit.")
                && let Err(e) = scalar_unit(&prim, value)
            {
                out.push(at(Diagnostic::error(
                    "property-type",
                    &n.id,
                    format!("property '{}': {e}", def.name),
                )
                .with_hint(format!(
                    "write a number and a unit, e.g. {}",
                    example(&prim)
                ))));
                continue;
            }
            if prim == "version" && parse_version(value).is_none() {
                out.push(at(Diagnostic::error(
                    "property-type",
                    &n.id,
                    format!("property '{}' = '{value}' is not a version", def.name),
                )));
                continue;
            }
            let v = typed(value, &prim);
            for c in def.constraints.iter().chain(extra) {
                if let Err(m) = check_constraint(c, &v, &prim) {
                    out.push(at(Diagnostic::error(
                        "constraint",
                        &n.id,
                        format!("property '{}': {m}", def.name),
                    )
                    .with_hint(format!(
                        "the type allows only values with {}: {}",
                        c.op,
                        show(&c.arg)
                    ))));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(op: &str, arg: J) -> Constraint {
        Constraint {
            op: op.into(),
            arg,
            line: 0,
            col: 0,
        }
    }

    #[test]
    fn scalar_units_normalise() {
        assert_eq!(scalar_unit("scalar-unit.size", "2 GB").unwrap(), 2e9);
        assert_eq!(scalar_unit("scalar-unit.size", "1 KiB").unwrap(), 1024.0);
        assert_eq!(
            scalar_unit("scalar-unit.frequency", "2.4 GHz").unwrap(),
            2.4e9
        );
        assert!(
            scalar_unit("scalar-unit.size", "12 parsecs")
                .unwrap_err()
                .contains("unit")
        );
        assert!(scalar_unit("scalar-unit.time", "soon").is_err());
    }

    #[test]
    fn constraints_accept_and_refuse() {
        let ge = c("greater_or_equal", J::String("1 GB".into()));
        assert!(check_constraint(&ge, &J::String("2048 MB".into()), "scalar-unit.size").is_ok());
        assert!(check_constraint(&ge, &J::String("512 MB".into()), "scalar-unit.size").is_err());
        let r = c("in_range", serde_json::json!([1, 65535]));
        assert!(check_constraint(&r, &serde_json::json!(80), "integer").is_ok());
        assert!(check_constraint(&r, &serde_json::json!(70000), "integer").is_err());
        let vv = c("valid_values", serde_json::json!(["tcp", "udp"]));
        assert!(check_constraint(&vv, &J::String("icmp".into()), "string").is_err());
        let p = c("pattern", J::String("[a-z]+".into()));
        assert!(check_constraint(&p, &J::String("abc".into()), "string").is_ok());
        assert!(check_constraint(&p, &J::String("abc1".into()), "string").is_err());
        let l = c("min_length", serde_json::json!(2));
        assert!(check_constraint(&l, &J::String("a".into()), "string").is_err());
    }
}
