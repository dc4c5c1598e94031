//! Resolving operation inputs the way the thesis does: the node's own properties first, then
//! the nodes below it along HostedOn, then deploy inputs; `get_input: NAME` defers to the deploy
//! input `NAME`.

use super::{InputSource, MissingInput, ResolvedInput};
use crate::tosca::properties::input_name;
use crate::tosca::{Parameter, TopologyIndex};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// The properties' default values of each node type, computed once per type during a plan
/// (walking DerivedFrom for every empty property of 10,000 nodes cost more than the plan).
pub(crate) struct Defaults<'a> {
    lib: &'a crate::Library,
    per_type: std::cell::RefCell<HashMap<crate::QName, Rc<HashMap<String, String>>>>,
    /// By the address of a template's type reference (stable while the plan borrows the
    /// topology): one cheap lookup per input instead of hashing the QName's strings.
    per_ref: std::cell::RefCell<HashMap<usize, Rc<HashMap<String, String>>>>,
}

impl<'a> Defaults<'a> {
    pub(crate) fn new(lib: &'a crate::Library) -> Self {
        Defaults {
            lib,
            per_type: Default::default(),
            per_ref: Default::default(),
        }
    }

    fn of(&self, ty: &crate::QName) -> Rc<HashMap<String, String>> {
        if let Some(d) = self.per_type.borrow().get(ty) {
            return d.clone();
        }
        let mut map = HashMap::new();
        // Nearest type first: a derived type's default wins.
        for t in self.lib.node_type_chain(ty) {
            if let Some(def) = &t.base.properties_definition {
                for k in def.keys() {
                    if let Some(d) = &k.default {
                        map.entry(k.key.clone()).or_insert_with(|| d.clone());
                    }
                }
            }
        }
        let d = Rc::new(map);
        self.per_type.borrow_mut().insert(ty.clone(), d.clone());
        d
    }

    /// Every property default of node type `ty` (nearest type's wins).
    pub(crate) fn all(&self, ty: &crate::QName) -> Rc<HashMap<String, String>> {
        self.of(ty)
    }

    /// The default of property `key` of node type `ty`.
    pub(crate) fn get(&self, ty: &crate::QName, key: &str) -> Option<String> {
        let addr = ty as *const crate::QName as usize;
        let cached = self.per_ref.borrow().get(&addr).cloned();
        let map = match cached {
            Some(m) => m,
            None => {
                let m = self.of(ty);
                self.per_ref.borrow_mut().insert(addr, m.clone());
                m
            }
        };
        if map.is_empty() {
            return None;
        }
        map.get(key).cloned()
    }
}

/// Resolves a `{"get_property": [entity, name]}` value (how TOSCA YAML's function reaches the
/// model) to the named property of SELF (`node`), HOST (the nearest host that has it) or a node
/// template; `None` when `value` is not such a call or names nothing.
fn get_property(
    defaults: &Defaults<'_>,
    topo: &TopologyIndex<'_>,
    node: &str,
    stack: &[String],
    value: &str,
    depth: usize,
) -> Option<String> {
    let v = value.trim();
    if depth > 8 || !v.starts_with("{\"get_property\"") {
        return None;
    }
    let call: BTreeMap<String, Vec<String>> = serde_json::from_str(v).ok()?;
    let args = call.get("get_property")?;
    let (entity, name) = (args.first()?, args.get(1)?);
    let owners: Vec<&str> = match entity.as_str() {
        "SELF" => vec![node],
        "HOST" => stack.iter().map(String::as_str).collect(),
        other => vec![other],
    };
    owners.into_iter().find_map(|o| {
        let n = topo.node(o)?;
        let found = match n.property(name).filter(|v| !v.trim().is_empty()) {
            Some(v) => v.to_string(),
            None => defaults.get(&n.type_ref, name)?,
        };
        Some(get_property(defaults, topo, o, &[], &found, depth + 1).unwrap_or(found))
    })
}

/// The placeholder an open plan shows for an input nobody provided yet.
pub fn missing_marker(name: &str) -> String {
    format!("<input: {name}>")
}

/// Whether an input of this name holds a secret (masked everywhere).
pub fn is_secret_name(name: &str) -> bool {
    let n = name.as_bytes();
    // One pass, comparing only the words that start with the byte at hand (called for every
    // input of every step): password, passwd, privatekey, private_key, secret, token, apikey,
    // api_key, in any case.
    (0..n.len()).any(|i| {
        let rest = &n[i..];
        let words: &[&[u8]] = match rest[0].to_ascii_lowercase() {
            b'p' => &[b"password", b"passwd", b"privatekey", b"private_key"],
            b's' => &[b"secret"],
            b't' => &[b"token"],
            b'a' => &[b"apikey", b"api_key"],
            _ => return false,
        };
        words.iter().any(|w| {
            rest.get(..w.len())
                .is_some_and(|r| r.eq_ignore_ascii_case(w))
        })
    })
}

/// Resolves one parameter for `node`; `stack` is the node's HostedOn chain (excluding itself).
#[allow(clippy::too_many_arguments)]
pub(crate) fn resolve_input(
    defaults: &Defaults<'_>,
    topo: &TopologyIndex<'_>,
    node: &str,
    stack: &[String],
    param: &Parameter,
    deploy_inputs: &BTreeMap<String, String>,
    operation: &str,
    missing: &mut Vec<MissingInput>,
) -> Option<ResolvedInput> {
    let mut asked_for: Option<String> = None;
    // The node itself, then its hosts; the source is built only for the value found.
    let candidates = std::iter::once((node, false)).chain(stack.iter().map(|h| (h.as_str(), true)));
    for (id, is_host) in candidates {
        let Some(n) = topo.node(id) else {
            continue;
        };
        // The template's value; an empty or absent one falls back to the type's default.
        let default;
        let value = match n.property(&param.name) {
            Some(v) if !v.trim().is_empty() => v,
            _ => match defaults.get(&n.type_ref, &param.name) {
                Some(d) => {
                    default = d;
                    default.as_str()
                }
                None => continue,
            },
        };
        // TOSCA YAML's `{get_property: [SELF|HOST|node, name]}`, resolved now (depth-limited).
        let owned;
        let value = match get_property(defaults, topo, id, stack, value, 0) {
            Some(v) => {
                owned = v;
                owned.as_str()
            }
            None => value,
        };
        if let Some(input) = input_name(value) {
            if let Some(v) = deploy_inputs.get(input) {
                return Some(ResolvedInput {
                    name: param.name.clone(),
                    value: v.clone(),
                    source: InputSource::DeployInput(input.to_string()),
                    secret: is_secret_name(&param.name),
                });
            }
            asked_for.get_or_insert_with(|| input.to_string());
            continue;
        }
        if value.trim().is_empty() {
            continue; // an empty property is asked for at deploy time
        }
        return Some(ResolvedInput {
            name: param.name.clone(),
            value: value.to_string(),
            source: if is_host {
                InputSource::Host(id.to_string())
            } else {
                InputSource::Own
            },
            secret: is_secret_name(&param.name),
        });
    }
    if let Some(v) = deploy_inputs.get(&param.name) {
        return Some(ResolvedInput {
            name: param.name.clone(),
            value: v.clone(),
            source: InputSource::DeployInput(param.name.clone()),
            secret: is_secret_name(&param.name),
        });
    }
    if param.required || asked_for.is_some() {
        let name = asked_for.clone().unwrap_or_else(|| param.name.clone());
        missing.push(MissingInput {
            node: node.to_string(),
            operation: operation.to_string(),
            input: param.name.clone(),
            deploy_input: asked_for,
        });
        // A marked placeholder: a strict plan refuses it, an open plan shows it.
        return Some(ResolvedInput {
            name: param.name.clone(),
            value: missing_marker(&name),
            source: InputSource::DeployInput(name),
            secret: is_secret_name(&param.name),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::is_secret_name;

    #[test]
    fn secret_names_are_found_anywhere_in_any_case() {
        for name in [
            "password",
            "dbPassword",
            "ROOT_PASSWD",
            "clientSecret",
            "authToken",
            "ssh_private_key",
            "PrivateKey",
            "x-api_key",
            "apiKey",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["", "p", "port", "pass", "keyName", "tok", "apiUrl", "secre"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }
}
